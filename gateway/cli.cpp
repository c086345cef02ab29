#include "gateway/cli.hpp"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "common/adapters/cli.hpp"
#include "common/adapters/http.hpp"
#include "common/adapters/log.hpp"
#include "common/adapters/server_flags.hpp"
#include "common/adapters/sqlite.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "gateway/device_api/device_api.hpp"
#include "gateway/sync/poller.hpp"
#include "ledger/net/api.hpp"
#include "ledger/net/local_client.hpp"
#include "ledger/net/node.hpp"

namespace fwchain::gateway {

namespace {

// Most memory SQLite may keep in a gateway (docs/benchmarks/gateway.md "Memory on an access
// point").
constexpr std::int64_t kSqliteHeapLimit = 2 << 20;

struct RunOptions {
    std::string data_dir;
    std::string vendor_url;
    std::string ledger_url;
    std::string listen = "0.0.0.0:7420";
    std::string root_file;
    std::int64_t poll_interval = 24 * 3600;
    std::uint32_t confirmations = 2;
    std::uint64_t cache_max_bytes = 0;
    http::ServerOptions http;
    std::string bt_listen = "0.0.0.0:7430";
    bool no_bittorrent = false;
    std::int64_t bt_stall_timeout = 60;
    std::int64_t bt_web_seed_delay = 10;
    std::string swarm_upload_limit = "0";
    std::vector<std::string> swarm_windows;
    std::int64_t rollout_interval = 60;
    std::string rollout_clock_file;
    std::string log_level = "info";
    // The embedded ledger node (when --ledger is not given): this gateway is a node of the
    // ledger, mining with its own key once the vendor admits it.
    std::string genesis_hash;
    std::string genesis_file;
    std::string ledger_listen = "0.0.0.0:7400";
    std::string ledger_advertise;
    std::vector<std::string> ledger_peers;
    bool no_mine = false;
    unsigned mining_threads = 1;
    unsigned mining_duty = 25;
    std::uint64_t prune_budget = 0;
};

// Peers from the vendor (GET /v1/ledger-peers): where a new gateway finds the network.
std::vector<std::string> VendorPeers(const std::string& vendor_url) {
    std::vector<std::string> out;
    auto client = http::Client::For(vendor_url);
    if (!client) return out;
    auto j = client->GetJson("/v1/ledger-peers", 64 << 10);
    if (!j) {
        spdlog::warn("no ledger peers from the vendor: {}", j.error().ToString());
        return out;
    }
    const Json peers = j->value("peers", Json::array());
    for (const auto& p : peers) {
        if (p.is_string() && out.size() < 64) out.push_back(p.get<std::string>());
    }
    return out;
}

int Die(const Error& e) {
    std::cerr << "gateway: " << e.ToString() << "\n";
    return 1;
}

struct GatewayKey {
    SigningKey key;
    bool fresh = false;  // generated now, not yet saved
};

// A new key is only generated here; Run saves it once every startup check passed, so a gateway
// that failed to start (bad --root, port taken, ...) leaves no fresh identity behind.
Expected<GatewayKey> LoadOrGenerateKey(const std::string& path) {
    if (FileExists(path)) {
        FW_ASSIGN(SigningKey key, SigningKey::Load(path));
        return GatewayKey{std::move(key), false};
    }
    return GatewayKey{SigningKey::Generate(), true};
}

int Run(const RunOptions& o) {
    InitLogging("gateway", o.log_level);
    // Signals are taken synchronously by the main thread; every other thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    if (auto st = MakeDirs(o.data_dir, 0700); !st) return Die(st.error());
    // An access point's memory: SQLite's page caches (the node's store and the report relay's)
    // give pages back past this instead of growing to 2 MB each; reads then come from the OS's
    // file cache, which is not the gateway's private memory.
    sql::SetSoftHeapLimit(kSqliteHeapLimit);
    const std::string key_path = o.data_dir + "/gateway.key";
    auto loaded = LoadOrGenerateKey(key_path);
    if (!loaded) return Die(loaded.error());
    const SigningKey* key = &loaded->key;
    auto trust = TrustStore::Open(o.data_dir, o.root_file, NowSeconds());
    if (!trust) return Die(trust.error());
    auto cache = ContentCache::Open(o.data_dir + "/cache", o.cache_max_bytes);
    if (!cache) return Die(cache.error());
    // Thin mode talks to --ledger; otherwise the gateway runs its own node and talks to it.
    std::string ledger_url = o.ledger_url;
    std::unique_ptr<ledger::Node> node;
    if (ledger_url.empty()) {
        if (o.genesis_hash.empty() || o.genesis_file.empty()) {
            std::cerr << "gateway: without --ledger URL the gateway runs its own ledger node: "
                         "--genesis HASH and --genesis-file FILE are required\n";
            return 2;
        }
        // The miner key is the gateway's own: save a fresh one before the node reads it.
        if (loaded->fresh) {
            if (auto st = key->Save(key_path); !st) return Die(st.error());
            loaded->fresh = false;
            spdlog::info("generated gateway key {}", key->PublicHex());
        }
        ledger::NodeOptions no;
        no.data_dir = o.data_dir + "/ledger";
        no.listen = o.ledger_listen;
        no.advertise = o.ledger_advertise;
        no.genesis_hash = o.genesis_hash;
        no.genesis_file = o.genesis_file;
        no.mine = !o.no_mine;
        no.key_file = key_path;
        no.mining_threads = o.mining_threads;
        no.mining_duty = o.mining_duty;
        no.http = o.http;
        no.peers = o.ledger_peers;
        no.prune_budget = o.prune_budget;
        for (auto& p : VendorPeers(o.vendor_url)) no.peers.push_back(std::move(p));
        // Fast join: the chain up to the checkpoint in the vendor's signed timestamp syncs
        // without tx signature checks (the timestamp is verified against the pinned root).
        if (auto st = RefreshVendorTimestamp(**trust, o.vendor_url, NowSeconds()); !st) {
            spdlog::warn("vendor timestamp before the ledger sync: {}", st.error().ToString());
        }
        if (const Timestamp* ts = (*trust)->timestamp(); ts && ts->checkpoint) {
            auto hash = Hash256FromHex(ts->checkpoint->hash);
            if (hash && ts->checkpoint->height > 0) {
                no.assume_valid = ledger::AssumeValidPoint{ts->checkpoint->height, *hash};
            }
        }
        auto opened = ledger::Node::Open(no);
        if (!opened) return Die(opened.error());
        node = std::move(*opened);
        auto node_port = node->Start();
        if (!node_port) return Die(node_port.error());
        ledger_url = "http://127.0.0.1:" + std::to_string(*node_port);  // for status only
        spdlog::info("ledger node on {} (port {}), peers {}", o.ledger_listen, *node_port,
                     no.peers.size());
    }
    // The poller, the report relay and device proofs read the ledger through one client: in
    // process over the embedded node, or HTTP to --ledger.
    std::unique_ptr<ledger::LedgerClient> ledger_client;
    if (node) {
        ledger_client = ledger::LocalLedgerClient(node->chain(), node->peers());
    } else {
        auto connected = ledger::ConnectLedger(ledger_url);
        if (!connected) return Die(connected.error());
        ledger_client = std::move(*connected);
    }
    auto relay = ReportRelay::Open(o.data_dir + "/gateway.sqlite", *ledger_client);
    if (!relay) return Die(relay.error());
    // Own node: the devices that report through this gateway are its own; a pruned node keeps
    // their txs. Those seen before (also in thin mode) once at start, new ones as they come.
    if (node) {
        if (auto st = node->chain().KeepDevices((*relay)->Devices()); !st) {
            spdlog::warn("recording own devices: {}", st.error().ToString());
        }
        (*relay)->OnDevice([n = node.get()](const std::string& device) {
            if (auto st = n->chain().KeepDevices({device}); !st) {
                spdlog::warn("recording own device {}: {}", device, st.error().ToString());
            }
        });
    }
    auto hp = http::ParseHostPort(o.listen);
    if (!hp) return Die(hp.error());

    DeviceApi api(**cache, **relay);
    http::Router routes;
    api.Register(routes);
    http::ServerOptions sopts = o.http;
    sopts.max_body = 64 * 1024;
    auto registry = std::make_shared<metrics::Registry>();
    sopts.metrics = registry;
    api.ExportMetrics(*registry);
    registry->AddGaugeFn(
        "fwchain_gateway_mining",
        "1 while the gateway's own ledger node mines with its key (0 in thin mode, --ledger URL).",
        [n = node.get()] { return n != nullptr && n->Mining() ? 1.0 : 0.0; });
    registry->AddGaugeFn("fwchain_gateway_cache_bytes", "Bytes of verified images in the cache.",
                         [c = cache->get()] { return static_cast<double>(c->TotalBytes()); });
    http::Server server(std::move(routes), sopts);
    auto port = server.Listen(hp->first, hp->second);
    if (!port) return Die(port.error());

    std::unique_ptr<Swarm> swarm;
    if (!o.no_bittorrent) {
        SwarmOptions so;
        so.listen = o.bt_listen;
        so.web_seed_delay_s = o.bt_web_seed_delay;
        // Checked by the flags' validators already.
        auto limit = ParseRate(o.swarm_upload_limit);
        if (!limit) return Die(limit.error());
        so.upload_limit = *limit;
        for (const auto& w : o.swarm_windows) {
            auto window = ParseTimeWindow(w);
            if (!window) return Die(window.error());
            so.upload_windows.push_back(*window);
        }
        auto started = Swarm::Start(so);
        if (!started) return Die(started.error());
        swarm = std::move(*started);
        std::string windows;
        for (const auto& w : so.upload_windows) windows += " " + FormatTimeWindow(w);
        spdlog::info("BitTorrent on port {}, upload {}{}", swarm->port(),
                     so.upload_limit > 0 ? "capped at " + std::to_string(so.upload_limit) + " B/s"
                                         : std::string("uncapped"),
                     windows.empty() ? "" : ", within" + windows);
    }
    if (swarm) {
        auto stat = [s = swarm.get()](std::int64_t SwarmStats::*field) {
            return [s, field] { return static_cast<double>(s->Stats().*field); };
        };
        registry->AddCounterFn("fwchain_gateway_swarm_uploaded_bytes_total",
                               "Image payload bytes uploaded to BitTorrent peers.",
                               stat(&SwarmStats::payload_uploaded));
        registry->AddCounterFn("fwchain_gateway_swarm_downloaded_bytes_total",
                               "Image payload bytes downloaded over BitTorrent.",
                               stat(&SwarmStats::payload_downloaded));
        registry->AddCounterFn(
            "fwchain_gateway_swarm_wasted_bytes_total",
            "Payload bytes fetches downloaded twice or that failed their hash check.",
            stat(&SwarmStats::wasted_bytes));
        registry->AddGaugeFn(
            "fwchain_gateway_swarm_upload_allowed",
            "1 inside an upload window (--swarm-window) or when none is set, 0 outside.",
            [s = swarm.get()] { return s->Stats().upload_allowed ? 1.0 : 0.0; });
    }
    if (auto st = MakeDirs(o.data_dir + "/torrents"); !st) return Die(st.error());
    if (loaded->fresh) {
        if (auto st = key->Save(key_path); !st) return Die(st.error());
        spdlog::info("generated gateway key {}", key->Id());
    }

    PollerConfig pc;
    pc.swarm = swarm.get();
    pc.torrent_dir = o.data_dir + "/torrents";
    pc.bt_stall_timeout_s = o.bt_stall_timeout;
    pc.vendor_url = o.vendor_url;
    pc.ledger = ledger_client.get();
    pc.gateway_id = key->Id();
    pc.poll_interval_s = o.poll_interval;
    pc.confirmations = o.confirmations;
    pc.rollout_interval_s = o.rollout_interval;
    if (!o.rollout_clock_file.empty()) {
        // Tests move a rollout through its stages without waiting for them.
        pc.rollout_clock = [file = o.rollout_clock_file] {
            auto text = ReadFile(file, 64);
            if (!text) return NowSeconds();
            try {
                return static_cast<std::int64_t>(std::stoll(*text));
            } catch (const std::exception&) {
                return NowSeconds();
            }
        };
    }
    Poller poller(pc, **trust, **cache,
                  [&api](std::shared_ptr<const CheckIndex> idx) { api.Publish(std::move(idx)); });
    {
        const PollerStats* st = &poller.stats();
        const std::string fetched = "fwchain_gateway_images_fetched_total";
        const std::string help = "Images fetched, verified and cached, by transport.";
        registry->AddCounterFn(fetched, help,
                               [st] { return static_cast<double>(st->fetched_bittorrent.load()); },
                               {{"via", "bittorrent"}});
        registry->AddCounterFn(fetched, help,
                               [st] { return static_cast<double>(st->fetched_http.load()); },
                               {{"via", "http"}});
        registry->AddCounterFn("fwchain_gateway_fetch_failures_total",
                               "Image fetches that failed or did not verify.",
                               [st] { return static_cast<double>(st->fetch_failures.load()); });
    }
    poller.PublishIndex();  // serve what survived a restart before the first poll returns
    poller.SeedCached();
    api.SetStatusProvider([&poller, &swarm, &server, &node, &ledger_url, &cache, &relay] {
        const PollerStats& st = poller.stats();
        const http::ServerStats hs = server.Stats();
        Json j{{"fetched_bittorrent", st.fetched_bittorrent.load()},
               {"fetched_http", st.fetched_http.load()},
               {"fetch_failures", st.fetch_failures.load()},
               {"http",
                {{"open_connections", hs.open_connections},
                 {"requests", hs.requests},
                 {"cut_slow", hs.cut_slow},
                 {"rejected_busy", hs.rejected_busy}}}};
        Json rollouts = Json::array();
        for (const auto& r : poller.Rollouts()) {
            rollouts.push_back(Json{{"product", r.product},
                                    {"version", r.version},
                                    {"sequence", r.sequence},
                                    {"state", PhaseName(r.decision.phase)},
                                    {"stage", r.decision.stage},
                                    {"percent", r.decision.percent},
                                    {"reason", r.decision.reason}});
        }
        j["rollouts"] = std::move(rollouts);
        Json ledger{{"mode", node ? "embedded" : "thin"}, {"url", ledger_url}};
        if (node) {
            ledger["mining"] = node->Mining();
            ledger["blocks_mined"] = node->BlocksMined();
            if (auto tip = node->chain().Tip()) {
                ledger["height"] = tip->height;
                ledger["tip"] = ToHex(tip->hash);
            }
            if (node->peers() != nullptr) {
                ledger["syncing"] = node->peers()->Syncing();
                ledger["best_peer_height"] = node->peers()->BestPeerHeight();
                ledger["peers"] = node->peers()->Usable().size();
            }
            if (auto storage = node->chain().Storage()) {
                ledger["storage"] = ledger::StorageToJson(*storage);
            }
        }
        Json images = Json::array();
        for (const auto& [sha, size] : (*cache)->Contents()) {
            images.push_back(Json{{"sha256", sha}, {"size", size}});
        }
        j["cache"] = Json{{"images", std::move(images)},
                          {"bytes", (*cache)->TotalBytes()},
                          {"max_bytes", (*cache)->max_bytes()}};
        j["devices_seen"] = (*relay)->DevicesSeen();
        j["memory"] = Json{{"sqlite_bytes", sql::MemoryUsed()},
                           {"sqlite_highwater", sql::MemoryHighwater()},
                           {"sqlite_limit", kSqliteHeapLimit}};
        j["ledger"] = std::move(ledger);
        if (swarm) {
            SwarmStats s = swarm->Stats();
            j["bittorrent"] = {
                {"port", swarm->port()},          {"torrents", s.torrents},
                {"uploaded", s.payload_uploaded}, {"downloaded", s.payload_downloaded},
                {"wasted", s.wasted_bytes},       {"upload_allowed", s.upload_allowed}};
        }
        return j;
    });

    std::thread sync_thread([&] { poller.Run(); });
    spdlog::info("gateway {} serving devices on {}:{}", key->Id().substr(0, 16), hp->first, *port);
    std::printf("listening on %s:%d\n", hp->first.c_str(), *port);
    std::fflush(stdout);

    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("stopping (signal {})", sig);
    poller.Stop();
    server.Stop();
    sync_thread.join();
    return 0;
}

}  // namespace

// `gateway status`: what a running gateway holds and does, from its GET /v1/health.
int Status(const std::string& url, bool json) {
    auto client = http::Client::For(url);
    auto health = client ? client->GetJson("/v1/health", 8 << 20) : Expected<Json>(client.error());
    if (!health) {
        std::cerr << "gateway status: " << health.error().ToString() << "\n";
        return 1;
    }
    const Json& h = *health;
    if (json) {
        std::cout << h.dump(2) << "\n";
        return 0;
    }
    auto n = [](const Json& j, const char* key) { return j.value(key, std::int64_t{0}); };
    std::cout << "status   " << h.value("status", "?") << ", " << n(h, "offers")
              << " release(s) offered\n";
    const Json ledger = h.value("ledger", Json::object());
    std::cout << "ledger   " << ledger.value("mode", "?") << " " << ledger.value("url", "");
    if (ledger.contains("height")) std::cout << ", height " << n(ledger, "height");
    if (ledger.contains("tip")) std::cout << " " << ledger.value("tip", "").substr(0, 16);
    if (ledger.contains("peers")) std::cout << ", " << n(ledger, "peers") << " peer(s)";
    if (ledger.value("syncing", false)) {
        std::cout << ", syncing to " << n(ledger, "best_peer_height");
    }
    if (ledger.contains("storage")) {
        const Json& st = ledger["storage"];
        std::cout << ", store " << n(st, "store_bytes") << " B";
        if (st.value("pruned", false)) {
            std::cout << " (pruned through height " << n(st, "prune_height") << ", budget "
                      << n(st, "prune_budget") << " B"
                      << (st.value("over_budget", false) ? ", OVER BUDGET" : "") << ")";
        }
    }
    if (ledger.contains("mining")) {
        std::cout << "\nmining   " << (ledger.value("mining", false) ? "yes" : "no") << ", "
                  << n(ledger, "blocks_mined") << " block(s) mined since start";
    }
    const Json cache = h.value("cache", Json::object());
    std::cout << "\ncache    " << cache.value("images", Json::array()).size() << " image(s), "
              << n(cache, "bytes") << " B";
    if (n(cache, "max_bytes") > 0) std::cout << " of " << n(cache, "max_bytes") << " B";
    for (const auto& img : cache.value("images", Json::array())) {
        std::cout << "\n         " << img.value("sha256", "") << " " << n(img, "size") << " B";
    }
    std::cout << "\ndevices  " << n(h, "devices_seen") << " seen (reports relayed)";
    std::cout << "\nfetched  " << n(h, "fetched_bittorrent") << " over BitTorrent, "
              << n(h, "fetched_http") << " over HTTP, " << n(h, "fetch_failures")
              << " failure(s)\n";
    if (h.contains("bittorrent")) {
        const Json& bt = h["bittorrent"];
        std::cout << "swarm    port " << n(bt, "port") << ", " << n(bt, "torrents")
                  << " torrent(s), uploaded " << n(bt, "uploaded") << " B, downloaded "
                  << n(bt, "downloaded") << " B, wasted " << n(bt, "wasted") << " B, uploads "
                  << (bt.value("upload_allowed", true) ? "on" : "off (outside the windows)")
                  << "\n";
    }
    const Json hs = h.value("http", Json::object());
    std::cout << "http     " << n(hs, "open_connections") << " open, " << n(hs, "requests")
              << " requests, " << n(hs, "cut_slow") << " cut slow, " << n(hs, "rejected_busy")
              << " refused busy\n";
    const Json rollouts = h.value("rollouts", Json::array());
    if (!rollouts.empty()) std::cout << "rollouts\n";
    for (const auto& r : rollouts) {
        std::cout << "  " << r.value("product", "") << " " << r.value("version", "") << " (seq "
                  << n(r, "sequence") << "): " << r.value("state", "") << " " << n(r, "percent")
                  << "%";
        const std::string reason = r.value("reason", "");
        if (!reason.empty()) std::cout << " - " << reason;
        std::cout << "\n";
    }
    return 0;
}

int Main(int argc, char** argv) {
    CLI::App app{"fwchain gateway: relays vendor firmware to the devices of a LAN"};
    app.require_subcommand(1);
    // Every option's default shows in --help; the subcommand inherits both settings.
    app.option_defaults()->always_capture_default();
    RunOptions o;
    auto* run = app.add_subcommand("run", "Sync with the vendor and serve devices");
    run->footer("Exit codes: 0 stopped cleanly (SIGINT/SIGTERM), 1 error, 2 usage.");
    run->add_option("--data", o.data_dir, "Data directory (keys, cache, trusted metadata)")
        ->required();
    run->add_option("--vendor", o.vendor_url, "Vendor server URL")->required();
    run->add_option("--ledger", o.ledger_url,
                    "Ledger node URL (thin mode); without it the gateway runs its own node");
    run->add_option("--genesis", o.genesis_hash, "Own node: expected genesis block hash (hex)");
    run->add_option("--genesis-file", o.genesis_file, "Own node: genesis block JSON");
    run->add_option("--ledger-listen", o.ledger_listen, "Own node: HOST:PORT of its ledger API")
        ->capture_default_str();
    run->add_option("--ledger-advertise", o.ledger_advertise,
                    "Own node: its URL as other nodes reach it (default http://LISTEN)");
    run->add_option("--ledger-peer", o.ledger_peers,
                    "Own node: a peer node URL (repeatable; the vendor's list is added)");
    run->add_flag("--no-mine", o.no_mine, "Own node: never mine, even once admitted");
    run->add_option("--mining-threads", o.mining_threads, "Own node: miner threads")
        ->capture_default_str()
        ->check(CLI::Range(1u, 64u));
    run->add_option("--mining-duty", o.mining_duty,
                    "Own node: percent of each miner thread's time spent hashing, at the "
                    "lowest CPU priority (the router's other work comes first)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 100u));
    run->add_option("--prune-budget", o.prune_budget,
                    "Own node: keep its ledger store under BYTES (kB, MB, GB = 1000^n; KiB, MiB, "
                    "GiB = 1024^n): old block bodies and other gateways' devices' txs are "
                    "dropped; 0 = keep everything")
        ->capture_default_str()
        ->transform(CLI::AsSizeValue(true));
    run->add_option("--listen", o.listen, "Device API address HOST:PORT (port 0 = any)")
        ->capture_default_str();
    run->add_option("--root", o.root_file, "Vendor root.json to pin on first start");
    run->add_option("--poll-interval", o.poll_interval, "Seconds between vendor polls")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    run->add_option("--confirmations", o.confirmations,
                    "Ledger blocks a release needs before devices see it")
        ->capture_default_str();
    run->add_option("--cache-max-bytes", o.cache_max_bytes, "Image cache cap (0 = unbounded)")
        ->capture_default_str();
    run->add_option("--bt-listen", o.bt_listen, "BitTorrent listen interface HOST:PORT")
        ->capture_default_str();
    run->add_flag("--no-bittorrent", o.no_bittorrent, "Fetch images over plain HTTP only");
    run->add_option("--bt-stall-timeout", o.bt_stall_timeout,
                    "Seconds without BitTorrent progress before falling back to HTTP")
        ->capture_default_str();
    run->add_option("--bt-web-seed-delay", o.bt_web_seed_delay,
                    "Seconds without progress from BitTorrent peers before the vendor's web seed "
                    "(its HTTP image URL) is added to a fetch")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    run->add_option("--swarm-upload-limit", o.swarm_upload_limit,
                    "BitTorrent upload cap: bytes/s or a rate such as 2MB/s, 500KiB/s, 8Mbit/s "
                    "(0 = unlimited); with a cap or windows it applies to LAN peers too")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& v) {
                auto r = ParseRate(v);
                return r ? std::string() : r.error().message;
            },
            ""))
        ->type_name("RATE");
    run->add_option(
           "--swarm-window", o.swarm_windows,
           "Local time HH:MM-HH:MM in which the swarm uploads (repeatable; across midnight "
           "as 22:00-06:00). Outside every window cached images are not seeded and a "
           "download uploads at most 16 KiB/s. Default: no window, always uploading")
        ->check(CLI::Validator(
            [](std::string& v) {
                auto w = ParseTimeWindow(v);
                return w ? std::string() : w.error().message;
            },
            ""))
        ->type_name("HH:MM-HH:MM");
    run->add_option("--rollout-interval", o.rollout_interval,
                    "Seconds between reads of the ledger's rollout evidence (approvals, pauses, "
                    "device outcomes) while a release is offered")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    run->add_option("--rollout-clock-file", o.rollout_clock_file,
                    "Read the rollout stages' clock (unix time) from FILE instead of the system "
                    "clock (tests)");
    http::AddServerFlags(*run, o.http);
    run->add_option("--log-level", o.log_level, "trace|debug|info|warn|error")
        ->capture_default_str();
    cli::AddConfigOption(app, *run);

    std::string status_url = "http://127.0.0.1:7420";
    bool status_json = false;
    auto* status = app.add_subcommand(
        "status", "What a running gateway holds: ledger, cache, swarm, rollouts (GET /v1/health)");
    status->add_option("--url", status_url, "The gateway's device API URL")->capture_default_str();
    status->add_flag("--json", status_json, "Print the health document as JSON");
    status->footer("Exit codes: 0 shown, 1 the gateway did not answer, 2 usage.");

    if (auto code = cli::Parse(app, argc, argv)) return *code == 0 ? 0 : 2;
    if (*status) return Status(status_url, status_json);
    return Run(o);
}

}  // namespace fwchain::gateway
