#include "vendor-server/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <set>

#include "common/adapters/cli.hpp"
#include "common/adapters/log.hpp"
#include "common/adapters/server_flags.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "vendor-server/catalog_view.hpp"
#include "vendor-server/init.hpp"
#include "vendor-server/keys.hpp"
#include "vendor-server/provision.hpp"
#include "vendor-server/publish.hpp"
#include "vendor-server/serve.hpp"
#include "vendor-server/upload.hpp"
#include "vendor-server/watch.hpp"

namespace fwchain::vendor {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
// publish signed what this server can, below the release role's threshold: the manifest is
// staged, nothing is released (CI must not treat this as a release).
constexpr int kExitStaged = 3;

int PrintStaged(const PublishResult& r, bool json) {
    const std::size_t missing = r.threshold - std::min(r.signatures, r.threshold);
    if (json) {
        std::cout << r.ToJson().dump(2) << std::endl;
    } else {
        std::cout << "staged " << r.product << " " << r.version << " sequence " << r.sequence
                  << ", not released: " << r.signatures << " of " << r.threshold
                  << " release signatures, needs " << missing << " more\n"
                  << "manifest " << r.manifest_path << "\n"
                  << "next: each other release key holder runs\n"
                  << "  vendor-server sign-release --manifest " << r.manifest_path
                  << " --key KEYFILE\n"
                  << "then: vendor-server release-staged --data DIR --manifest " << r.manifest_path
                  << "\n";
        std::cout.flush();
    }
    std::cerr << "vendor-server publish: staged, needs " << missing << " more release signature(s)"
              << std::endl;
    return kExitStaged;
}

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
    // A peer closing a socket must be an error return, never a silent death (an upload refused
    // before its body was read, a gateway going away mid-response).
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"fwchain vendor server: keys, signed releases, device admission, release API"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for all subcommands");
    // Every option's default shows in --help; subcommands inherit both settings.
    app.option_defaults()->always_capture_default();
    app.footer("Exit codes: 0 success, 1 error (reason on stderr), 2 usage.");

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
    init_cmd
        ->add_option("--max-image-size", init.max_image_size,
                     "Largest image publish and the admin API accept (bytes)")
        ->capture_default_str();
    init_cmd
        ->add_option("--genesis-time", init.genesis_time,
                     "Genesis block timestamp, Unix seconds (default: now; an earlier one lets a "
                     "generated or imported chain of past blocks follow it)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
    init_cmd->add_flag("--json", init_json, "Print the result as JSON");

    // --- publish
    PublishOptions pub;
    RolloutFlags rollout_flags;
    bool pub_json = false;
    auto* pub_cmd = app.add_subcommand("publish", "Publish a tagged firmware release");
    pub_cmd->footer(
        "Exit codes: 0 released, 1 error or the ledger refused the release tx, 2 usage, 3 staged "
        "(signed below the release threshold: not released).");
    UploadOptions upload;
    std::string token_file;
    pub_cmd->add_option("--data", pub.data_dir, "Vendor data directory (local publish)");
    pub_cmd->add_option("--server", upload.server_url,
                        "Upload to a running server's admin API instead (http(s)://host:port)");
    pub_cmd->add_option("--token", upload.token,
                        "Admin API bearer token (prefer --token-file or FWCHAIN_ADMIN_TOKEN)");
    pub_cmd->add_option("--token-file", token_file, "File holding the admin API token");
    pub_cmd->add_option("--ca-cert", upload.ca_cert, "CA certificate (PEM) of an https server");
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
    pub_cmd->add_flag("--allow-dirty", pub.allow_dirty,
                      "Accept an image file from a work tree with uncommitted changes");
    // Their "unset" values (-1, 0) are not defaults a user could pass: --help says it in words.
    pub_cmd
        ->add_option("--rollout-percent", rollout_flags.percent,
                     "One-stage rollout: share of devices (1..100)")
        ->default_str("all devices at once");
    pub_cmd
        ->add_option("--rollout-start", rollout_flags.start,
                     "Start of the one-stage rollout (unix time)")
        ->default_str("now");
    pub_cmd->add_option("--stage", rollout_flags.stages,
                        "Rollout stage PERCENT%@WHEN, repeatable, e.g. --stage 1%@now "
                        "--stage 10%@+24h --stage 100%@+72h (WHEN: now, +30m, +24h, +2d, "
                        "+SECONDS, unix time)");
    pub_cmd->add_option("--max-failure-rate", rollout_flags.max_failure_rate,
                        "Halt the rollout once this percent (1..100) of device outcomes are "
                        "failed or rolled-back (0 = never)");
    pub_cmd->add_option("--min-reports", rollout_flags.min_reports,
                        "Device outcomes needed before --max-failure-rate applies");
    pub_cmd->add_option("--min-approvals", pub.min_approvals,
                        "Approver txs needed before devices install it");
    pub_cmd->add_flag("--json", pub_json, "Print the result as JSON");

    // --- threshold signing of staged releases
    SignReleaseOptions sign;
    bool sign_json = false;
    auto* sign_cmd = app.add_subcommand(
        "sign-release", "Add your release key's signature to a staged manifest (offline)");
    sign_cmd->add_option("--manifest", sign.manifest, "Staged manifest file")->required();
    sign_cmd->add_option("--key", sign.key_file, "Your release key file (0600)")->required();
    sign_cmd->add_option("--root", sign.root_file,
                         "The vendor's current root.json: check the key is a release key");
    sign_cmd->add_flag("--json", sign_json, "Print the result as JSON");
    ReleaseStagedOptions staged_rel;
    bool staged_json = false;
    auto* staged_cmd = app.add_subcommand(
        "release-staged", "Release a staged manifest once a threshold of release keys signed it");
    staged_cmd->add_option("--data", staged_rel.data_dir, "Vendor data directory")->required();
    staged_cmd->add_option("--manifest", staged_rel.manifest, "The signed staged manifest")
        ->required();
    staged_cmd->add_option("--ledger", staged_rel.ledger_url,
                           "Ledger node URL: submit the release tx now");
    staged_cmd->add_flag("--json", staged_json, "Print the result as JSON");

    // --- watch
    WatchOptions watch;
    bool watch_once = false;
    auto* watch_cmd = app.add_subcommand("watch", "Publish every new tag matching a pattern");
    watch_cmd->add_option("--data", watch.publish.data_dir, "Vendor data directory")->required();
    watch_cmd->add_option("--repo", watch.publish.repo, "Git repository")->required();
    watch_cmd->add_option("--pattern", watch.pattern, "Tag glob")->capture_default_str();
    watch_cmd->add_option("--image-path", watch.image_path, "Image path inside each tagged tree")
        ->required();
    watch_cmd->add_option("--product", watch.publish.product, "Product (device class) id")
        ->required();
    watch_cmd->add_option("--hardware", watch.publish.hardware, "Compatible hardware (repeatable)")
        ->required();
    watch_cmd->add_option("--ledger", watch.publish.ledger_url, "Ledger node URL");
    watch_cmd->add_option("--interval", watch.interval_s, "Seconds between scans")
        ->capture_default_str();
    watch_cmd->add_flag("--allow-lightweight", watch.publish.allow_lightweight,
                        "Accept lightweight tags");
    watch_cmd->add_flag("--once", watch_once, "Scan once and exit");
    cli::AddConfigOption(app, *watch_cmd);

    // --- list / show
    std::string list_data;
    bool list_json = false;
    auto* list_cmd = app.add_subcommand("list", "Products and their latest releases");
    list_cmd->add_option("--data", list_data, "Vendor data directory")->required();
    list_cmd->add_flag("--json", list_json, "Print JSON");
    std::string show_data, show_product;
    bool show_json = false;
    auto* show_cmd = app.add_subcommand("show", "A product's releases, rollout and approvals");
    show_cmd->add_option("--data", show_data, "Vendor data directory")->required();
    show_cmd->add_option("product", show_product, "Product id")->required();
    show_cmd->add_flag("--json", show_json, "Print JSON");

    // --- keys
    RotateOptions rot;
    bool rot_json = false;
    std::string rot_role;
    auto* rot_root_cmd =
        app.add_subcommand("rotate-root", "New root key: root N+1 signed by old and new");
    auto* rot_rel_cmd = app.add_subcommand("rotate-release-key", "New release key (root N+1)");
    auto* rot_key_cmd = app.add_subcommand("rotate-key", "New key for a role (root N+1)");
    rot_key_cmd->add_option("--role", rot_role, "root|release|timestamp|admission")->required();
    auto* revoke_key_cmd =
        app.add_subcommand("revoke-key", "Drop a key from the root (replaced if it is ours)");
    revoke_key_cmd->add_option("--keyid", rot.revoke_keyids, "Key id to revoke (repeatable)")
        ->required();
    std::string add_role;
    std::vector<std::string> add_public;
    std::size_t add_threshold = 0;
    auto* add_key_cmd = app.add_subcommand(
        "add-key", "Add an outside public key to a role, e.g. an approver (root N+1)");
    add_key_cmd->add_option("--role", add_role, "approver|release|admission|timestamp|root")
        ->required();
    add_key_cmd->add_option("--public", add_public, "Public key, 64 hex (repeatable)");
    add_key_cmd->add_option("--threshold", add_threshold, "New threshold of the role");
    for (auto* c : {rot_root_cmd, rot_rel_cmd, rot_key_cmd, revoke_key_cmd, add_key_cmd}) {
        c->add_option("--data", rot.data_dir, "Vendor data directory")->required();
        c->add_option("--expires-days", rot.expires_days, "New root lifetime in days")
            ->capture_default_str();
        c->add_option("--ledger", rot.ledger_url, "Ledger node URL: submit the root tx now");
        c->add_flag("--json", rot_json, "Print the result as JSON");
    }

    // --- revoke
    RevokeOptions rev;
    bool rev_json = false;
    auto* rev_cmd = app.add_subcommand("revoke", "Revoke an admitted device or gateway");
    rev_cmd->add_option("--data", rev.data_dir, "Vendor data directory")->required();
    auto* rev_dev = rev_cmd->add_option("--device", rev.device_id, "Device id");
    auto* rev_gw = rev_cmd->add_option("--gateway", rev.gateway, "Gateway name");
    rev_dev->excludes(rev_gw);
    rev_cmd->add_option("--ledger", rev.ledger_url, "Ledger node URL: submit the tx now");
    rev_cmd->add_flag("--json", rev_json, "Print the result as JSON");

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
    serve_cmd->add_option("--ledger-peer", serve.ledger_peers,
                          "Ledger node URL new gateways bootstrap from (GET /v1/ledger-peers; "
                          "repeatable; default: --ledger)");
    serve_cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->capture_default_str();
    serve_cmd->add_option("--public-url", serve.public_url,
                          "Base URL for web seeds and the tracker (default: from --listen)");
    serve_cmd->add_option("--admin-token-file", serve.admin_token_file,
                          "Enable the admin API with this bearer token (file mode 0600; or "
                          "FWCHAIN_ADMIN_TOKEN)");
    serve_cmd->add_option("--tls-cert", serve.tls_cert, "TLS certificate (PEM): serve HTTPS");
    serve_cmd->add_option("--tls-key", serve.tls_key, "TLS private key (PEM)");
    serve_cmd
        ->add_option("--tracker-interval", serve.tracker_interval,
                     "Seconds between BitTorrent announces")
        ->capture_default_str();
    serve_cmd
        ->add_option("--bt-listen", serve.bt_listen,
                     "BitTorrent listen HOST:PORT of the vendor's own seeder (every release, each "
                     "piece handed out about once; announced to this tracker)")
        ->capture_default_str();
    serve_cmd->add_flag("--no-bittorrent", serve.no_bittorrent,
                        "Do not seed over BitTorrent (gateways fall back to the web seed)");
    serve_cmd
        ->add_option("--checkpoint-margin", serve.checkpoints.margin,
                     "Blocks on top of a ledger block before the timestamp names it (checkpoint, "
                     "release blocks)")
        ->capture_default_str();
    serve_cmd
        ->add_option("--checkpoint-interval", serve.checkpoints.interval,
                     "Blocks the ledger grows before the signed checkpoint moves")
        ->capture_default_str();
    http::AddServerFlags(*serve_cmd, serve.http);
    cli::AddConfigOption(app, *serve_cmd);

    if (auto code = cli::Parse(app, argc, argv)) return *code == 0 ? kExitOk : kExitUsage;

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
            auto rollout = RolloutFromFlags(rollout_flags, NowSeconds());
            if (!rollout) return ReportError("publish", rollout.error());
            pub.rollout = std::move(*rollout);
        }
        if (*pub_cmd && !upload.server_url.empty()) {
            if (upload.token.empty() && !token_file.empty()) {
                auto t = ReadFile(token_file, 4096);
                if (!t) return ReportError("publish", t.error());
                upload.token = *t;
                while (!upload.token.empty() &&
                       (upload.token.back() == '\n' || upload.token.back() == '\r')) {
                    upload.token.pop_back();
                }
            }
            if (upload.token.empty()) {
                if (const char* env = std::getenv("FWCHAIN_ADMIN_TOKEN")) upload.token = env;
            }
            // Progress only for a person watching: never in CI logs or a pipe.
            if (isatty(STDERR_FILENO) != 0) upload.progress = StderrUploadProgress();
            auto r = PublishToServer(pub, upload);
            if (!r) return ReportError("publish", r.error());
            if (r->value("status", "") == "staged") {
                std::cout << (pub_json ? r->dump(2) + "\n"
                                       : "staged " + r->value("product", "") + " " +
                                             r->value("version", "") + " on " + upload.server_url +
                                             ": " + r->value("manifest", "") + "\n");
                std::cout.flush();
                std::cerr << "vendor-server publish: staged, needs more release signatures"
                          << std::endl;
                return kExitStaged;
            }
            if (pub_json) {
                std::cout << r->dump(2) << std::endl;
            } else {
                std::cout << "published " << r->value("product", "") << " "
                          << r->value("version", "") << " sequence "
                          << r->value("sequence", std::uint64_t{0}) << " on " << upload.server_url
                          << "\n"
                          << "image sha256 " << r->value("sha256", "") << "\n"
                          << "release tx " << r->value("tx_id", "") << std::endl;
            }
            return kExitOk;
        }
        if (*pub_cmd) {
            if (pub.data_dir.empty()) {
                std::cerr << "vendor-server publish: --data (local) or --server (upload) is "
                             "required"
                          << std::endl;
                return kExitUsage;
            }
            auto r = Publish(pub);
            if (!r) return ReportError("publish", r.error());
            if (r->staged) return PrintStaged(*r, pub_json);
            if (pub_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "published " << r->product << " " << r->version << " sequence "
                          << r->sequence << "\n"
                          << "image sha256 " << r->sha256 << " (" << r->size << " bytes)\n"
                          << "commit " << r->commit << "\n"
                          << "release tx " << r->tx_id << "\n"
                          << "torrent v1 " << r->infohash_v1 << " v2 " << r->infohash_v2 << "\n";
                PrintLedger(r->ledger);
                std::cout.flush();
            }
            return LedgerExit("publish", r->ledger);
        }
        if (*sign_cmd) {
            auto r = SignRelease(sign);
            if (!r) return ReportError("sign-release", r.error());
            if (sign_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "signed " << r->product << " " << r->version << " sequence "
                          << r->sequence << " with key " << r->keyid << ": " << r->signatures
                          << " signature(s)";
                if (r->threshold > 0) std::cout << " (threshold " << r->threshold << ")";
                std::cout << "\n";
                std::cout.flush();
            }
            return kExitOk;
        }
        if (*staged_cmd) {
            auto r = ReleaseStaged(staged_rel);
            if (!r) return ReportError("release-staged", r.error());
            if (staged_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "released " << r->product << " " << r->version << " sequence "
                          << r->sequence << " with " << r->signatures << " signature(s)\n"
                          << "release tx " << r->tx_id << "\n"
                          << "timestamp v" << r->timestamp_version << "\n";
                PrintLedger(r->ledger);
                std::cout.flush();
            }
            return LedgerExit("release-staged", r->ledger);
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
        if (*watch_cmd) {
            InitLogging("vendor-server", "info");
            if (watch_once) {
                std::set<std::string> refused;
                auto r = WatchOnce(watch, refused);
                if (!r) return ReportError("watch", r.error());
                for (const auto& p : r->published) {
                    std::cout << (p.staged ? "staged (needs more release signatures) "
                                           : "published ")
                              << p.product << " " << p.version << " sequence " << p.sequence
                              << "\n";
                }
                for (const auto& why : r->refused) std::cout << "not published: " << why << "\n";
                std::cout.flush();
                return kExitOk;
            }
            auto st = Watch(watch);
            if (!st) return ReportError("watch", st.error());
            return kExitOk;
        }
        if (*list_cmd) {
            auto r = ListCatalog(list_data);
            if (!r) return ReportError("list", r.error());
            if (list_json) {
                std::cout << r->dump(2) << std::endl;
                return kExitOk;
            }
            std::cout << "vendor " << (*r)["vendor"].get<std::string>() << ", root v"
                      << (*r)["root_version"] << ", " << (*r)["outbox_pending"]
                      << " tx(s) pending\n";
            for (const auto& p : (*r)["products"]) {
                std::cout << p["product"].get<std::string>() << "  "
                          << p["latest_version"].get<std::string>() << " (sequence "
                          << p["latest_sequence"] << ", " << p["releases"] << " release(s))\n";
            }
            std::cout.flush();
            return kExitOk;
        }
        if (*show_cmd) {
            auto r = ShowProduct(show_data, show_product);
            if (!r) return ReportError("show", r.error());
            if (show_json) {
                std::cout << r->dump(2) << std::endl;
                return kExitOk;
            }
            std::cout << show_product << "\n";
            for (const auto& rel : (*r)["releases"]) {
                std::cout << "  " << rel["sequence"] << "  " << rel["version"].get<std::string>()
                          << "  tag " << rel["tag"].get<std::string>() << "  image "
                          << rel["image"].value("sha256", "").substr(0, 16) << "  ledger "
                          << rel["ledger"].get<std::string>();
                if (!rel["rollout"].is_null()) {
                    std::cout << "  rollout";
                    for (const auto& st : rel["rollout"].value("stages", Json::array())) {
                        std::cout << " " << st.value("percent", 0) << "%@" << st.value("start", 0);
                    }
                }
                if (rel["min_approvals"].get<std::int64_t>() > 0) {
                    std::cout << "  approvals>=" << rel["min_approvals"];
                }
                std::cout << "\n";
            }
            std::cout.flush();
            return kExitOk;
        }
        if (*rot_root_cmd || *rot_rel_cmd || *rot_key_cmd || *revoke_key_cmd || *add_key_cmd) {
            std::string name = "rotate-root";
            if (*add_key_cmd) {
                name = "add-key";
                if (!add_public.empty()) rot.add_keys[add_role] = add_public;
                if (add_threshold != 0) rot.thresholds[add_role] = add_threshold;
            }
            if (*rot_root_cmd) rot.roles = {kRootRole};
            if (*rot_rel_cmd) {
                rot.roles = {kReleaseRole};
                name = "rotate-release-key";
            }
            if (*rot_key_cmd) {
                rot.roles = {rot_role};
                name = "rotate-key";
            }
            if (*revoke_key_cmd) name = "revoke-key";
            auto r = RotateRoot(rot);
            if (!r) return ReportError(name, r.error());
            if (rot_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "root v" << r->version << " written to " << r->root_path << "\n";
                for (const auto& [role, id] : r->keyids) {
                    std::cout << "new " << role << " key " << id << " (generated here, keys/"
                              << role << ".key)\n";
                }
                for (const auto& a : r->added) {
                    std::cout << "added outside " << a.role << " key " << a.keyid
                              << " (public key only; its holder keeps the private key)\n";
                }
                for (const auto& [role, tk] : r->thresholds) {
                    std::cout << role << " threshold " << tk.first << " of " << tk.second
                              << " key(s)\n";
                }
                for (const auto& id : r->removed) std::cout << "removed key " << id << "\n";
                std::cout << "root tx " << r->tx_id << "\n";
                PrintLedger(r->ledger);
                std::cout.flush();
            }
            return LedgerExit(name, r->ledger);
        }
        if (*rev_cmd) {
            auto r = Revoke(rev);
            if (!r) return ReportError("revoke", r.error());
            if (rev_json) {
                std::cout << r->ToJson().dump(2) << std::endl;
            } else {
                std::cout << "revoked " << r->role << " " << r->subject << "\n"
                          << "revoke tx " << r->tx_id << "\n";
                PrintLedger(r->ledger);
                std::cout.flush();
            }
            return LedgerExit("revoke", r->ledger);
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
