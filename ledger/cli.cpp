#include "ledger/cli.hpp"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "common/adapters/cli.hpp"
#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/adapters/server_flags.hpp"
#include "common/core/fs.hpp"
#include "common/core/tx.hpp"
#include "ledger/chain/verify.hpp"
#include "ledger/net/node.hpp"
#include "ledger/primitives/block.hpp"

namespace fwchain::ledger {

namespace {

using http::UrlEncode;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int Die(const std::string& what, const Error& e) {
    std::cerr << "ledger " << what << ": " << e.ToString() << "\n";
    return kExitError;
}

int RunNode(const NodeOptions& opts) {
    // Block the stop signals before any thread starts, so every thread inherits the mask and
    // only this thread receives them (via sigtimedwait).
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    auto node = Node::Open(opts);
    if (!node) return Die("node", node.error());
    auto port = (*node)->Start();
    if (!port) return Die("node", port.error());
    // Tests start the node on port 0 and read the bound port from this line.
    std::printf("listening on %s:%d\n", (*node)->host().c_str(), *port);
    std::fflush(stdout);

    while (true) {
        timespec wait{1, 0};
        const int sig = sigtimedwait(&stop_signals, nullptr, &wait);
        if (sig == SIGINT || sig == SIGTERM) {
            spdlog::info("signal {}: stopping", sig);
            break;
        }
        if (auto failure = (*node)->Failure()) {
            (*node)->Stop();
            return Die("node", *failure);
        }
    }
    (*node)->Stop();
    return kExitOk;
}

std::string FormatTime(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

struct SearchArgs {
    std::string node;
    std::string device, product, version, state, type;
    std::optional<std::int64_t> since, until;
    std::size_t limit = 100;
    bool json = false;
};

// Who a miner key is: the subject and role of its admission, or a genesis miner.
std::map<std::string, std::string> MinerNames(http::Client& client) {
    std::map<std::string, std::string> names;
    auto reg = client.GetJson("/v1/registry?role=gateway", 64 << 20);
    if (!reg) return names;
    for (const auto& k : reg->value("keys", Json::array())) {
        names[k.value("key", std::string())] = k.value("subject", std::string());
    }
    return names;
}

std::string MinerName(const std::map<std::string, std::string>& names, const std::string& key) {
    if (key.empty()) return "?";
    auto it = names.find(key);
    return it != names.end() ? it->second : "genesis:" + key.substr(0, 8);
}

int RunSearch(const SearchArgs& a) {
    auto client = http::Client::For(a.node);
    if (!client) return Die("search", client.error());
    std::string base = "/v1/search?";
    auto add = [&](const char* name, const std::string& v) {
        if (!v.empty()) base += std::string(name) + "=" + UrlEncode(v) + "&";
    };
    add("device", a.device);
    add("product", a.product);
    add("ver", a.version);
    add("state", a.state);
    add("type", a.type);
    if (a.since) add("since", std::to_string(*a.since));
    if (a.until) add("until", std::to_string(*a.until));

    // --limit is the number of results wanted; the API pages at most 1000 at a time.
    std::vector<Json> results;
    std::string cursor;
    while (results.size() < a.limit) {
        const std::size_t page = std::min<std::size_t>(a.limit - results.size(), 1000);
        std::string path = base + "limit=" + std::to_string(page);
        if (!cursor.empty()) path += "&cursor=" + UrlEncode(cursor);
        auto answer = client->GetJson(path);
        if (!answer) return Die("search", answer.error());
        const Json& arr = (*answer)["results"];
        if (!arr.is_array()) {
            return Die("search", MakeError(Errc::kNetwork, "bad-answer", "no results array"));
        }
        for (const auto& r : arr) results.push_back(r);
        if (cursor.empty() && answer->contains("prune_height")) {
            std::fprintf(
                stderr,
                "note: %s is a pruned node (block bodies up to height %llu dropped): "
                "only its own devices' and the vendor's older txs are shown; ask an "
                "archival node for the rest\n",
                a.node.c_str(),
                static_cast<unsigned long long>(answer->value("prune_height", std::uint64_t{0})));
        }
        const Json& next = (*answer)["next_cursor"];
        if (!next.is_string() || arr.empty()) break;
        cursor = next.get<std::string>();
    }

    if (a.json) {
        // One result per line, and the whole output is still one JSON array.
        std::cout << "[";
        for (std::size_t i = 0; i < results.size(); ++i) {
            std::cout << (i == 0 ? "\n" : ",\n") << results[i].dump();
        }
        std::cout << (results.empty() ? "]\n" : "\n]\n");
        return kExitOk;
    }
    const auto names = MinerNames(*client);
    std::printf("%-8s %-20s %-8s %-24s %-12s %-12s %s\n", "HEIGHT", "TIME", "TYPE", "RECIPIENT",
                "VER", "STATE", "MINED BY");
    for (const auto& r : results) {
        const Json& tx = r.value("tx", Json::object());
        std::printf(
            "%-8llu %-20s %-8s %-24s %-12s %-12s %s\n",
            static_cast<unsigned long long>(r.value("height", std::uint64_t{0})),
            FormatTime(tx.value("time", std::int64_t{0})).c_str(),
            tx.value("type", std::string()).c_str(), tx.value("recipient", std::string()).c_str(),
            tx.value("ver", std::string()).c_str(), tx.value("state", std::string()).c_str(),
            MinerName(names, r.value("miner", std::string())).c_str());
    }
    return kExitOk;
}

int RunTip(const std::string& node_url, bool json) {
    auto client = http::Client::For(node_url);
    if (!client) return Die("tip", client.error());
    auto tip = client->GetJson("/v1/tip");
    if (!tip) return Die("tip", tip.error());
    if (json) {
        std::cout << tip->dump() << "\n";
        return kExitOk;
    }
    const std::string miner = tip->value("miner", std::string());
    std::cout << "height " << tip->value("height", std::uint64_t{0}) << "\n"
              << "hash   " << tip->value("hash", std::string()) << "\n"
              << "miner  " << miner << " (" << MinerName(MinerNames(*client), miner) << ")\n"
              << "time   " << FormatTime(tip->value("time", std::int64_t{0})) << "\n"
              << "bits   " << tip->value("bits", std::uint32_t{0}) << "\n"
              << "work   " << tip->value("work", std::string()) << "\n";
    if (tip->value("pruned", false)) {
        std::cout << "pruned yes: block bodies up to height "
                  << tip->value("prune_height", std::uint64_t{0}) << " are not held\n";
    }
    return kExitOk;
}

// Progress goes to stderr and only on a terminal, so piped output stays clean.
void Progress(const char* what, std::uint64_t done, std::uint64_t total) {
    if (isatty(STDERR_FILENO) == 0) return;
    std::fprintf(stderr, "\r%s %llu/%llu", what, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
}

struct VerifyArgs {
    std::string data_dir;
    std::string genesis_hash;
    std::string genesis_file;
};

int RunVerify(const VerifyArgs& a) {
    std::optional<Hash256> expected;
    if (!a.genesis_file.empty() || !a.genesis_hash.empty()) {
        if (a.genesis_hash.empty()) {
            return Die("verify",
                       MakeError(Errc::kInvalid, "usage", "--genesis-file needs --genesis HASH"));
        }
        if (!a.genesis_file.empty()) {
            auto g = LoadGenesisFile(a.genesis_file, a.genesis_hash);
            if (!g) return Die("verify", g.error());
        }
        expected = Hash256FromHex(a.genesis_hash);
        if (!expected) {
            return Die("verify", MakeError(Errc::kInvalid, "usage", "--genesis must be hex"));
        }
    }
    auto r =
        VerifyStoredChain(a.data_dir + "/ledger.sqlite", expected,
                          [](std::uint64_t d, std::uint64_t t) { Progress("verified", d, t); });
    if (!r) return Die("verify", r.error());
    if (r->bad_height) {
        std::printf("INVALID block at height %llu %s: %s\n",
                    static_cast<unsigned long long>(*r->bad_height), r->bad_hash.c_str(),
                    r->reason.c_str());
        std::printf("%llu of %llu blocks valid\n", static_cast<unsigned long long>(r->verified),
                    static_cast<unsigned long long>(r->tip_height + 1));
        return kExitError;
    }
    std::printf("ok: %llu blocks valid from genesis to height %llu\n",
                static_cast<unsigned long long>(r->verified),
                static_cast<unsigned long long>(r->tip_height));
    return kExitOk;
}

void PrintRollouts(const Json& rollouts);

int RunStatus(const std::string& node_url, const std::string& product, bool json,
              std::size_t devices) {
    auto client = http::Client::For(node_url);
    if (!client) return Die("status", client.error());
    auto r = client->GetJson("/v1/status?product=" + UrlEncode(product) +
                             "&limit=" + std::to_string(devices));
    if (!r) return Die("status", r.error());
    auto rollouts = client->GetJson("/v1/rollouts?product=" + UrlEncode(product), 8 << 20);
    if (!rollouts) return Die("status", rollouts.error());
    if (json) {
        (*r)["rollouts"] = (*rollouts)["releases"];
        std::cout << r->dump() << "\n";
        return kExitOk;
    }
    if (r->contains("prune_height")) {
        std::printf(
            "note: %s is a pruned node (block bodies up to height %llu dropped): the counts below "
            "are of the reports it holds; the rollouts are complete\n\n",
            node_url.c_str(),
            static_cast<unsigned long long>(r->value("prune_height", std::uint64_t{0})));
    }
    const std::uint64_t total = r->value("devices", std::uint64_t{0});
    std::printf("product %s: %llu devices with an installed version\n\n", product.c_str(),
                static_cast<unsigned long long>(total));
    std::printf("%-20s %10s %7s %10s\n", "VERSION", "DEVICES", "SHARE", "FAILURES");
    const Json& versions = (*r)["versions"];
    const Json& failures = (*r)["failures"];
    std::set<std::string> names;
    for (auto it = versions.begin(); it != versions.end(); ++it) names.insert(it.key());
    for (auto it = failures.begin(); it != failures.end(); ++it) names.insert(it.key());
    for (const auto& v : names) {
        const std::uint64_t n = versions.value(v, std::uint64_t{0});
        const std::uint64_t f = failures.value(v, std::uint64_t{0});
        const double share =
            total ? 100.0 * static_cast<double>(n) / static_cast<double>(total) : 0;
        // Reports without a version (older devices' failures before any verified manifest).
        const std::string label = v.empty() ? "(no version)" : v;
        std::printf("%-20s %10llu %6.1f%% %10llu\n", label.c_str(),
                    static_cast<unsigned long long>(n), share, static_cast<unsigned long long>(f));
    }
    if (devices > 0 && !(*r)["latest"].empty()) {
        std::printf("\n%-32s %-20s %-8s %s\n", "DEVICE", "VERSION", "HEIGHT", "TIME");
        for (const auto& d : (*r)["latest"]) {
            const std::string ver = d.value("ver", std::string());
            std::printf("%-32s %-20s %-8llu %s\n", d.value("device", std::string()).c_str(),
                        ver.empty() ? "(no version)" : ver.c_str(),
                        static_cast<unsigned long long>(d.value("height", std::uint64_t{0})),
                        FormatTime(d.value("time", std::int64_t{0})).c_str());
        }
        if ((*r)["next_cursor"].is_string()) std::printf("... (more devices: use --json)\n");
    }
    PrintRollouts(*rollouts);
    return kExitOk;
}

// approve / rollout: signed with the operator's own key, offline when --out is given.
struct SignArgs {
    std::string key_file;
    std::string release;  // release tx id
    std::string action;   // rollout: pause | resume | abort
    std::string node;     // submit to this node
    std::string out;      // or write the signed tx here
};

int SubmitTx(const std::string& what, const std::string& node_url, const std::string& text) {
    auto client = http::Client::For(node_url);
    if (!client) return Die(what, client.error());
    auto r = client->PostText("/v1/tx", text);
    if (!r) return Die(what, r.error());
    std::printf("submitted tx %s\n", r->value("id", std::string()).c_str());
    return kExitOk;
}

int RunSign(const std::string& type, const SignArgs& a) {
    if (!IsHex(a.release, 32)) {
        std::fprintf(stderr, "ledger %s: --release must be a release tx id (64 hex)\n",
                     type.c_str());
        return kExitUsage;
    }
    if (a.node.empty() == a.out.empty()) {
        std::fprintf(stderr, "ledger %s: give --node URL (submit) or --out FILE (offline)\n",
                     type.c_str());
        return kExitUsage;
    }
    auto key = SigningKey::Load(a.key_file);
    if (!key) return Die(type, key.error());
    Tx tx;
    tx.type = type;
    tx.recipient = a.release;
    tx.state = a.action;
    tx.time = NowSeconds();
    std::uint8_t nonce[8];
    RandomBytes(nonce, sizeof nonce);
    tx.nonce = GetLe64(nonce) >> 1;  // below 2^63: every JSON parser reads it exactly
    tx.SignWith(*key);
    const std::string text = tx.CanonicalText();
    if (!a.out.empty()) {
        if (auto st = WriteFileAtomic(a.out, text + "\n"); !st) return Die(type, st.error());
        std::printf(
            "signed %s tx %s for release %s into %s (submit: ledger submit --node URL "
            "--tx %s)\n",
            type.c_str(), tx.Id().c_str(), a.release.c_str(), a.out.c_str(), a.out.c_str());
        return kExitOk;
    }
    return SubmitTx(type, a.node, text);
}

int RunSubmit(const std::string& node_url, const std::string& file) {
    auto text = ReadFile(file, kMaxTxSize + 1024);
    if (!text) return Die("submit", text.error());
    auto j = ParseJson(*text, kMaxTxSize + 1024);
    if (!j) return Die("submit", j.error());
    auto tx = ParseTx(*j);
    if (!tx) return Die("submit", tx.error());
    return SubmitTx("submit", node_url, tx->CanonicalText());
}

// A product's rollouts, newest release first (GET /v1/rollouts).
void PrintRollouts(const Json& rollouts) {
    const Json& releases = rollouts["releases"];
    if (!releases.is_array() || releases.empty()) return;
    std::printf("\n%-16s %6s %-17s %-12s %9s %9s %9s %7s %11s\n", "RELEASE", "SEQ", "STATE",
                "STAGE", "APPROVALS", "IN-STAGE", "INSTALLED", "FAILED", "ROLLED-BACK");
    for (const auto& r : releases) {
        std::string stage = "-";
        if (r["stage"].is_object()) {
            const auto n = r["rollout"]["stages"].size();
            stage = std::to_string(r["stage"].value("index", -1) + 1) + "/" + std::to_string(n) +
                    " " + std::to_string(r.value("percent", 0)) + "%";
        } else if (r.value("offered", false)) {
            stage = "100%";
        }
        const Json& ap = r["approvals"];
        const Json& dv = r["devices"];
        std::string state = r.value("state", std::string());
        if (r.value("superseded", false)) state += " (superseded)";
        std::printf("%-16s %6llu %-17s %-12s %4llu/%-4llu %9llu %9llu %7llu %11llu\n",
                    r.value("version", std::string()).c_str(),
                    static_cast<unsigned long long>(r.value("sequence", std::uint64_t{0})),
                    state.c_str(), stage.c_str(),
                    static_cast<unsigned long long>(ap.value("have", std::uint64_t{0})),
                    static_cast<unsigned long long>(ap.value("need", std::uint64_t{0})),
                    static_cast<unsigned long long>(dv.value("in_stage", std::uint64_t{0})),
                    static_cast<unsigned long long>(dv.value("installed", std::uint64_t{0})),
                    static_cast<unsigned long long>(dv.value("failed", std::uint64_t{0})),
                    static_cast<unsigned long long>(dv.value("rolled_back", std::uint64_t{0})));
        const std::string reason = r.value("reason", std::string());
        if (!reason.empty()) std::printf("%-16s   %s\n", "", reason.c_str());
    }
}

int RunExport(const std::string& node_url, const std::string& format) {
    auto client = http::Client::For(node_url);
    if (!client) return Die("export", client.error());
    auto tip = client->GetJson("/v1/tip");
    if (!tip) return Die("export", tip.error());
    const std::uint64_t tip_height = tip->value("height", std::uint64_t{0});
    if (format == "csv") {
        std::printf("height,id,type,sender,recipient,ver,verifier,state,time,nonce\n");
    }
    auto csv = [](const std::string& v) {
        if (v.find_first_of(",\"\n") == std::string::npos) return v;
        std::string out = "\"";
        for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
        return out + "\"";
    };
    std::string cursor;
    std::uint64_t count = 0;
    while (true) {
        std::string path = "/v1/search?limit=1000";
        if (!cursor.empty()) path += "&cursor=" + UrlEncode(cursor);
        auto page = client->GetJson(path);
        if (!page) return Die("export", page.error());
        for (const auto& r : (*page)["results"]) {
            ++count;
            if (format == "jsonl") {
                std::cout << r.dump() << "\n";
                continue;
            }
            const Json& tx = r["tx"];
            std::cout << r.value("height", std::uint64_t{0}) << "," << r.value("id", std::string())
                      << "," << csv(tx.value("type", std::string())) << ","
                      << csv(tx.value("sender", std::string())) << ","
                      << csv(tx.value("recipient", std::string())) << ","
                      << csv(tx.value("ver", std::string())) << ","
                      << csv(tx.value("verifier", std::string())) << ","
                      << csv(tx.value("state", std::string())) << ","
                      << tx.value("time", std::int64_t{0}) << ","
                      << tx.value("nonce", std::uint64_t{0}) << "\n";
        }
        // Newest first: progress is how far down from the tip the export is.
        if (!(*page)["results"].empty()) {
            const std::uint64_t h = (*page)["results"].back().value("height", std::uint64_t{0});
            Progress("exported down to height", tip_height - h, tip_height);
        }
        const Json& next = (*page)["next_cursor"];
        if (!next.is_string()) break;
        cursor = next.get<std::string>();
    }
    Progress("exported down to height", tip_height, tip_height);
    spdlog::info("exported {} txs", count);
    return kExitOk;
}

}  // namespace

int RunCli(int argc, char** argv) {
    CLI::App app{"fwchain ledger: proof-of-work ledger node and query tool"};
    app.require_subcommand(1);
    // Every option's default shows in --help; subcommands inherit both settings.
    app.option_defaults()->always_capture_default();
    app.footer("Exit codes: 0 success, 1 error (reason on stderr), 2 usage.");
    std::string log_level = "info";
    app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

    NodeOptions node_opts;
    auto* node = app.add_subcommand("node", "run a ledger node (API, optional miner)");
    node->footer("Exit codes: 0 stopped by SIGINT/SIGTERM, 1 error (reason on stderr), 2 usage.");
    node->add_option("--data", node_opts.data_dir, "data directory")->required();
    node->add_option("--listen", node_opts.listen, "HOST:PORT to serve the API on (port 0: any)");
    node->add_option("--genesis", node_opts.genesis_hash, "expected genesis block hash (hex)")
        ->required();
    node->add_option("--genesis-file", node_opts.genesis_file, "genesis block JSON")->required();
    node->add_flag("--mine", node_opts.mine, "mine blocks (the key must be an admitted miner)");
    node->add_option("--key", node_opts.key_file, "miner key file");
    node->add_option("--mining-threads", node_opts.mining_threads, "miner threads")
        ->check(CLI::Range(1u, 256u));
    node->add_option("--mining-duty", node_opts.mining_duty,
                     "percent of each miner thread's time spent hashing (a CPU budget; miner "
                     "threads always run at the lowest priority)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 100u));
    node->add_option("--peer", node_opts.peers, "peer node URL (repeatable)");
    node->add_option("--advertise", node_opts.advertise,
                     "our URL as peers should reach it (default http://LISTEN)");
    node->add_option("--sync-interval-ms", node_opts.sync_interval_ms,
                     "how often to compare tips with peers")
        ->check(CLI::Range(50u, 3600000u));
    node->add_option("--ban-seconds", node_opts.ban_seconds,
                     "how long a peer that sent invalid data is ignored");
    node->add_option("--prune-budget", node_opts.prune_budget,
                     "pruned node: keep ledger.sqlite (+WAL) under BYTES (suffixes kB, MB, GB "
                     "= 1000^n, KiB, MiB, GiB = 1024^n) by dropping block bodies older than "
                     "finality_depth and other devices' txs; 0 = archival, keep everything")
        ->transform(CLI::AsSizeValue(true));
    node->add_option("--read-connections", node_opts.read_connections,
                     "SQLite connections that serve reads (search, status, proofs, headers) "
                     "beside the writer; 0 = reads wait for the chain lock")
        ->check(CLI::Range(0, 16))
        ->capture_default_str();
    node->add_option("--keep-device", node_opts.keep_devices,
                     "pruned node: a device id whose txs are kept (repeatable)");
    node->add_option_function<std::string>(
            "--assume-valid",
            [&node_opts](const std::string& v) {
                auto p = ParseAssumeValid(v);
                if (!p) throw CLI::ValidationError("--assume-valid", p.error().message);
                node_opts.assume_valid = *p;
            },
            "HEIGHT:HASH of a block the vendor vouches for (its signed timestamp's checkpoint): "
            "blocks up to it sync without their tx signatures checked; PoW, links, Merkle "
            "roots, miner signatures and every state rule are still checked (default: none)")
        ->type_name("HEIGHT:HASH");
    node->add_option("--log-level", log_level, "trace|debug|info|warn|error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    http::AddServerFlags(*node, node_opts.http);
    cli::AddConfigOption(app, *node);

    SearchArgs search_args;
    auto* search = app.add_subcommand("search", "search transactions on a node");
    search->add_option("--node", search_args.node, "node URL, e.g. http://127.0.0.1:7400")
        ->required();
    search->add_option("--device", search_args.device, "device id (update/status recipient)");
    search->add_option("--product", search_args.product, "product");
    search->add_option("--version", search_args.version, "version string (ver)");
    search->add_option("--state", search_args.state, "update state");
    search->add_option("--type", search_args.type, "tx type");
    search->add_option("--since", search_args.since, "tx time >= T (epoch seconds)");
    search->add_option("--until", search_args.until, "tx time <= T (epoch seconds)");
    search->add_option("--limit", search_args.limit, "maximum results")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    search->add_flag("--json", search_args.json, "JSON array output, one result per line");

    std::string tip_node;
    bool tip_json = false;
    auto* tip = app.add_subcommand("tip", "show a node's chain tip");
    tip->add_option("--node", tip_node, "node URL")->required();
    tip->add_flag("--json", tip_json, "JSON output");

    std::string status_node, status_product;
    bool status_json = false;
    std::size_t status_devices = 0;
    auto* status = app.add_subcommand("status", "version distribution of a product's fleet");
    status->add_option("--node", status_node, "node URL")->required();
    status->add_option("--product", status_product, "product")->required();
    status->add_option("--devices", status_devices, "also list this many devices (max 1000)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1000}));
    status->add_flag("--json", status_json, "JSON output");

    SearchArgs history_args;
    history_args.limit = 1000;
    auto* history = app.add_subcommand("history", "every report of one device, newest first");
    history->add_option("--node", history_args.node, "node URL")->required();
    history->add_option("--device", history_args.device, "device id")->required();
    history->add_option("--limit", history_args.limit, "maximum results")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    history->add_flag("--json", history_args.json, "JSON array output");

    VerifyArgs verify_args;
    auto* verify = app.add_subcommand("verify", "revalidate a node's stored chain from genesis");
    verify->footer(
        "Exit codes: 0 every block is valid, 1 an invalid block (named on stdout) or an error, "
        "2 usage.");
    verify->add_option("--data", verify_args.data_dir, "node data directory")->required();
    verify->add_option("--genesis", verify_args.genesis_hash, "expected genesis hash (hex)");
    verify->add_option("--genesis-file", verify_args.genesis_file, "genesis block JSON");

    std::string export_node, export_format = "jsonl";
    auto* exp = app.add_subcommand("export", "dump every tx of the main chain, newest first");
    exp->add_option("--node", export_node, "node URL")->required();
    exp->add_option("--format", export_format, "jsonl|csv")->check(CLI::IsMember({"jsonl", "csv"}));

    SignArgs approve_args;
    auto* approve = app.add_subcommand(
        "approve", "sign an approve tx for a release with an approver key (offline with --out)");
    approve->add_option("--key", approve_args.key_file, "approver key file")->required();
    approve->add_option("--release", approve_args.release, "release tx id (64 hex)")->required();
    approve->add_option("--node", approve_args.node, "submit to this node URL");
    approve->add_option("--out", approve_args.out, "write the signed tx to FILE instead");

    SignArgs control_args;
    auto* control = app.add_subcommand(
        "rollout", "pause, resume or abort a release's rollout (release or approver key)");
    control->add_option("action", control_args.action, "pause | resume | abort")
        ->required()
        ->check(CLI::IsMember({"pause", "resume", "abort"}));
    control->add_option("--key", control_args.key_file, "release or approver key file")->required();
    control->add_option("--release", control_args.release, "release tx id (64 hex)")->required();
    control->add_option("--node", control_args.node, "submit to this node URL");
    control->add_option("--out", control_args.out, "write the signed tx to FILE instead");

    std::string keygen_out;
    auto* keygen = app.add_subcommand(
        "keygen", "create an Ed25519 key file (e.g. an approver's) and print its public key");
    keygen->add_option("--out", keygen_out, "key file to create (0600; never overwritten)")
        ->required();

    std::string submit_node, submit_file;
    auto* submit = app.add_subcommand("submit", "submit a signed tx file (from --out) to a node");
    submit->add_option("--node", submit_node, "node URL")->required();
    submit->add_option("--tx", submit_file, "signed tx file")->required();

    if (auto code = cli::Parse(app, argc, argv)) return *code == 0 ? kExitOk : kExitUsage;

    if (*node) {
        InitLogging("ledger", log_level);
        return RunNode(node_opts);
    }
    // Query commands print results on stdout; only problems go to the log.
    InitLogging("ledger", log_level == "info" ? "warn" : log_level);
    if (*search) return RunSearch(search_args);
    if (*status) return RunStatus(status_node, status_product, status_json, status_devices);
    if (*history) {
        history_args.limit = std::max<std::size_t>(history_args.limit, 1);
        return RunSearch(history_args);
    }
    if (*verify) return RunVerify(verify_args);
    if (*exp) return RunExport(export_node, export_format);
    if (*approve) return RunSign(txtype::kApprove, approve_args);
    if (*control) return RunSign(txtype::kRollout, control_args);
    if (*submit) return RunSubmit(submit_node, submit_file);
    if (*keygen) {
        if (FileExists(keygen_out)) {
            std::fprintf(stderr, "ledger keygen: %s exists; not overwriting a key\n",
                         keygen_out.c_str());
            return kExitError;
        }
        SigningKey key = SigningKey::Generate();
        if (auto st = key.Save(keygen_out); !st) return Die("keygen", st.error());
        std::printf("%s\n", key.PublicHex().c_str());
        return kExitOk;
    }
    return RunTip(tip_node, tip_json);
}

}  // namespace fwchain::ledger
