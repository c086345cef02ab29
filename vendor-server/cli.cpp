#include "vendor-server/cli.hpp"

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "common/adapters/log.hpp"
#include "common/core/crypto.hpp"
#include "vendor-server/init.hpp"
#include "vendor-server/provision.hpp"
#include "vendor-server/publish.hpp"
#include "vendor-server/serve.hpp"

namespace fwchain::vendor {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int ReportError(const std::string& command, const Error& e) {
    std::cerr << "vendor-server " << command << ": " << e.ToString() << std::endl;
    return kExitError;
}

void PrintLedger(const std::optional<SubmitReport>& ledger) {
    if (!ledger) return;
    std::cout << "ledger: " << ledger->accepted << " accepted, " << ledger->rejected
              << " rejected, " << ledger->pending << " pending\n";
    if (!ledger->network_error.empty()) {
        std::cerr << "warning: " << ledger->network_error
                  << " (the tx stays in the outbox; `serve` retries it)" << std::endl;
    }
}

// A release the ledger refused will never count on devices: make CI fail loudly, even though
// the release is recorded locally.
int LedgerExit(const std::string& command, const std::optional<SubmitReport>& ledger) {
    if (!ledger || ledger->rejected == 0) return kExitOk;
    for (const auto& r : ledger->rejections) {
        std::cerr << "vendor-server " << command << ": ledger rejected " << r << std::endl;
    }
    return kExitError;
}

}  // namespace

int RunCli(int argc, char** argv) {
    CLI::App app{"fwchain vendor server: keys, signed releases, device admission, release API"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for all subcommands");

    // --- init
    InitOptions init;
    bool init_json = false;
    auto* init_cmd = app.add_subcommand("init",
                                        "Create a vendor data dir: keys, root v1, "
                                        "timestamp, genesis block");
    init_cmd->add_option("--data", init.data_dir, "Data directory to create")->required();
    init_cmd->add_option("--vendor", init.vendor, "Vendor name")->required();
    init_cmd->add_option("--expires-days", init.expires_days, "Root metadata lifetime in days")
        ->capture_default_str();
    init_cmd
        ->add_option("--bits", init.bits, "Initial proof-of-work difficulty (leading zero bits)")
        ->capture_default_str();
    init_cmd->add_flag("--json", init_json, "Print the result as JSON");

    // --- publish
    PublishOptions pub;
    bool pub_json = false;
    auto* pub_cmd = app.add_subcommand("publish", "Publish a tagged firmware release");
    pub_cmd->add_option("--data", pub.data_dir, "Vendor data directory")->required();
    pub_cmd->add_option("--repo", pub.repo, "Git repository")->required();
    pub_cmd->add_option("--tag", pub.tag, "Release tag (annotated)")->required();
    pub_cmd->add_option("--image", pub.image, "Image file, or tree:PATH inside the tagged tree")
        ->required();
    pub_cmd->add_option("--product", pub.product, "Product (device class) id")->required();
    pub_cmd->add_option("--hardware", pub.hardware, "Compatible hardware revision (repeatable)")
        ->required();
    pub_cmd->add_option("--version", pub.version, "Semantic version (default: tag without 'v')");
    pub_cmd->add_option("--ledger", pub.ledger_url, "Ledger node URL: submit the release tx now");
    pub_cmd->add_option("--expires-days", pub.expires_days, "Manifest lifetime in days")
        ->capture_default_str();
    pub_cmd->add_flag("--allow-lightweight", pub.allow_lightweight,
                      "Accept a lightweight tag (no tagger, no notes)");
    pub_cmd->add_flag("--json", pub_json, "Print the result as JSON");

    // --- provision
    ProvisionOptions prov;
    bool prov_json = false;
    auto* prov_cmd = app.add_subcommand("provision", "Create a device identity and admit it");
    prov_cmd->add_option("--data", prov.data_dir, "Vendor data directory")->required();
    prov_cmd->add_option("--device-id", prov.device_id, "Device id")->required();
    prov_cmd->add_option("--product", prov.product, "Product (device class) id")->required();
    prov_cmd->add_option("--hardware", prov.hardware, "Hardware revision")->required();
    prov_cmd->add_option("--out", prov.out_dir, "Output directory for the device")->required();
    prov_cmd->add_option("--ledger", prov.ledger_url, "Ledger node URL: submit the admit tx now");
    prov_cmd
        ->add_option("--max-image-size", prov.max_image_size, "Largest image the device accepts")
        ->capture_default_str();
    prov_cmd->add_flag("--json", prov_json, "Print the result as JSON");

    // --- admit-gateway
    AdmitGatewayOptions gw;
    std::string gw_key_file;
    bool gw_json = false;
    auto* gw_cmd = app.add_subcommand("admit-gateway", "Admit a gateway key to the ledger");
    gw_cmd->add_option("--data", gw.data_dir, "Vendor data directory")->required();
    gw_cmd->add_option("--name", gw.name, "Gateway name")->required();
    auto* key_file_opt =
        gw_cmd->add_option("--key-file", gw_key_file, "Gateway public key (key file or hex file)");
    auto* public_opt = gw_cmd->add_option("--public", gw.public_hex, "Gateway public key, hex");
    key_file_opt->excludes(public_opt);
    gw_cmd->add_option("--ledger", gw.ledger_url, "Ledger node URL: submit the admit tx now");
    gw_cmd->add_flag("--json", gw_json, "Print the result as JSON");

    // --- serve
    ServeOptions serve;
    std::string log_level = "info";
    auto* serve_cmd = app.add_subcommand("serve", "Serve the release API and deliver the outbox");
    serve_cmd->add_option("--data", serve.data_dir, "Vendor data directory")->required();
    serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (port 0 = any free port)")
        ->capture_default_str();
    serve_cmd->add_option("--ledger", serve.ledger_url, "Ledger node URL")->required();
    serve_cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }

    try {
        if (*init_cmd) {
            auto r = Init(init);
            if (!r) return ReportError("init", r.error());
            if (init_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "initialised " << init.data_dir << " for " << init.vendor << "\n"
                          << "genesis " << r->genesis_hash << "\n"
                          << "root key " << r->root_keyid << std::endl;
            }
            return kExitOk;
        }
        if (*pub_cmd) {
            auto r = Publish(pub);
            if (!r) return ReportError("publish", r.error());
            if (pub_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "published " << r->product << " " << r->version << " sequence "
                          << r->sequence << "\n"
                          << "image sha256 " << r->sha256 << " (" << r->size << " bytes)\n"
                          << "commit " << r->commit << "\n"
                          << "release tx " << r->tx_id << "\n";
                PrintLedger(r->ledger);
                std::cout.flush();
            }
            return LedgerExit("publish", r->ledger);
        }
        if (*prov_cmd || *gw_cmd) {
            Expected<AdmitResult> r = Fail(Errc::kInternal, "unset", "");
            const bool json = *prov_cmd ? prov_json : gw_json;
            const std::string name = *prov_cmd ? "provision" : "admit-gateway";
            if (*prov_cmd) {
                r = Provision(prov);
            } else {
                if (!gw_key_file.empty()) {
                    auto hex = PublicKeyFromFile(gw_key_file);
                    if (!hex) return ReportError(name, hex.error());
                    gw.public_hex = *hex;
                } else if (gw.public_hex.empty()) {
                    std::cerr << "vendor-server admit-gateway: one of --key-file or --public "
                                 "is required"
                              << std::endl;
                    return kExitUsage;
                }
                r = AdmitGateway(gw);
            }
            if (!r) return ReportError(name, r.error());
            if (json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "admitted " << r->role << " " << r->subject << " key " << r->key
                          << "\n"
                          << "admit tx " << r->tx_id << "\n";
                if (*prov_cmd) std::cout << "device files in " << prov.out_dir << "\n";
                PrintLedger(r->ledger);
                std::cout.flush();
            }
            return LedgerExit(name, r->ledger);
        }
        if (*serve_cmd) {
            InitLogging("vendor-server", log_level);
            auto st = Serve(serve);
            if (!st) return ReportError("serve", st.error());
            return kExitOk;
        }
    } catch (const std::exception& e) {
        // Last resort: nothing below is meant to throw, but a bug must not abort silently.
        std::cerr << "vendor-server: internal error: " << e.what() << std::endl;
        return kExitError;
    }
    return kExitUsage;
}

}  // namespace fwchain::vendor
