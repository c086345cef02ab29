#include "ledger/net/api.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/adapters/http_server.hpp"
#include "common/core/fs.hpp"
#include "common/core/mutex.hpp"
#include "common/core/names.hpp"
#include "ledger/net/dashboard.hpp"

namespace fwchain::ledger {

namespace {

constexpr std::size_t kMaxHeadersPerRequest = 2000;

int HttpStatusFor(const Error& e) {
    if (e.reason == "mempool-full") return 503;
    if (e.reason == "pruned") return 410;  // it existed; this node no longer holds it
    switch (e.code) {
        case Errc::kInvalid:
        case Errc::kVerify:
            return 400;
        case Errc::kUnauthorized:
            return 403;
        case Errc::kNotFound:
            return 404;
        case Errc::kConflict:
            return 409;
        case Errc::kTooLarge:
            return 413;
        default:
            return 500;
    }
}

void SendErr(http::Response& res, const Error& e) {
    http::SendError(res, HttpStatusFor(e), e.reason, e.message);
}

Expected<std::int64_t> ParseInt(const std::string& name, const std::string& s) {
    std::int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        return Fail(Errc::kInvalid, "bad-param", name + " must be an integer");
    }
    return v;
}

std::string Param(const http::Request& req, const char* name) { return req.Param(name); }

}  // namespace

std::string MinerOf(const BlockInfo& b) {
    return ToHex(BlockHeader::Deserialize(b.header.data()).miner);
}

Json TipToJson(const BlockInfo& tip, const StorageStatus& storage) {
    return Json{{"height", tip.height},     {"hash", ToHex(tip.hash)},
                {"miner", MinerOf(tip)},    {"time", tip.time},
                {"bits", tip.bits},         {"work", WorkToHex(tip.work)},
                {"pruned", storage.pruned}, {"prune_height", storage.prune_height}};
}

Json StorageToJson(const StorageStatus& s) {
    return Json{{"pruned", s.pruned},           {"prune_height", s.prune_height},
                {"store_bytes", s.store_bytes}, {"prune_budget", s.budget},
                {"over_budget", s.over_budget}, {"kept_devices", s.kept_devices}};
}

Json TxStatusToJson(const TxStatus& s) {
    Json j{{"id", s.id}, {"tx", s.tx}, {"confirmations", s.confirmations}, {"proof", s.proof}};
    j["block_hash"] = s.block_hash ? Json(*s.block_hash) : Json(nullptr);
    j["height"] = s.height ? Json(*s.height) : Json(nullptr);
    return j;
}

Json KeyRecordToJson(const KeyRecord& k) {
    auto pub = PublicKeyFromHex(k.key);
    return Json{{"key", k.key},         {"id", pub ? KeyId(*pub) : std::string()},
                {"subject", k.subject}, {"role", k.role},
                {"product", k.product}, {"height", k.height},
                {"revoked", k.revoked}};
}

Json StatusReportToJson(const StatusReport& r) {
    Json latest = Json::array();
    for (const auto& d : r.latest) {
        latest.push_back(
            Json{{"device", d.device}, {"ver", d.ver}, {"height", d.height}, {"time", d.time}});
    }
    Json out{{"product", r.product},
             {"devices", r.devices},
             {"versions", Json(r.versions)},
             {"failures", Json(r.failures)},
             {"latest", std::move(latest)}};
    out["next_cursor"] = r.next_cursor ? Json(*r.next_cursor) : Json(nullptr);
    return out;
}

Expected<SearchQuery> SearchQueryFromParams(const std::multimap<std::string, std::string>& params) {
    SearchQuery q;
    auto get = [&](const char* name) -> std::string {
        auto it = params.find(name);
        return it == params.end() ? std::string() : it->second;
    };
    q.device = get("device");
    q.product = get("product");
    q.ver = get("ver");
    q.state = get("state");
    q.type = get("type");
    q.cursor = get("cursor");
    if (auto s = get("since"); !s.empty()) {
        FW_ASSIGN(q.since, ParseInt("since", s));
    }
    if (auto s = get("until"); !s.empty()) {
        FW_ASSIGN(q.until, ParseInt("until", s));
    }
    if (auto s = get("limit"); !s.empty()) {
        FW_ASSIGN(std::int64_t limit, ParseInt("limit", s));
        if (limit < 1 || limit > static_cast<std::int64_t>(kMaxSearchLimit)) {
            return Fail(Errc::kInvalid, "bad-param", "limit must be in [1, 1000]");
        }
        q.limit = static_cast<std::size_t>(limit);
    }
    return q;
}

struct ApiServer::Impl {
    Chain& chain;
    ApiOptions opts;
    std::unique_ptr<http::Server> server;
    Mutex tip_mu;
    std::string tip_text FW_GUARDED_BY(tip_mu);  // GET /v1/tip as of tip_generation
    std::uint64_t tip_generation FW_GUARDED_BY(tip_mu) = 0;

    Impl(Chain& c, const ApiOptions& o) : chain(c), opts(o) {
        http::Router routes;
        Routes(routes);
        http::ServerOptions so = opts.server;
        so.max_body = 64 * 1024;  // per route below: a block is the largest request
        server = std::make_unique<http::Server>(std::move(routes), so);
    }

    // Every route reads or writes the chain (SQLite, the chain lock): worker threads.
    void Routes(http::Router& s) {
        const http::RouteOptions tx_body{http::Exec::kWorker, kMaxTxSize, true};
        const http::RouteOptions block_body{http::Exec::kWorker, kMaxBlockSize, true};
        const http::RouteOptions small_body{http::Exec::kWorker, 64 * 1024, true};
        s.Post(
            "/v1/tx",
            [this](const http::Request& req, http::Response& res) { PostTx(req, res, false); },
            tx_body);
        // The tip is asked for most (peers, gateways, dashboards): answered on the event thread
        // from a copy made at the chain's current generation, refreshed on a worker otherwise.
        s.GetFast(
            "/v1/tip",
            [this](const http::Request&, http::Response& res) {
                MutexLock lock(tip_mu);
                if (tip_text.empty() || tip_generation != chain.Generation()) return false;
                http::SendJsonText(res, tip_text);
                return true;
            },
            [this](const http::Request&, http::Response& res) {
                const std::uint64_t generation = chain.Generation();
                auto tip = chain.Tip();
                if (!tip) return SendErr(res, tip.error());
                auto storage = chain.Storage();
                if (!storage) return SendErr(res, storage.error());
                std::string text = Canonical(TipToJson(*tip, *storage));
                {
                    MutexLock lock(tip_mu);
                    tip_text = text;
                    tip_generation = generation;
                }
                http::SendJsonText(res, std::move(text));
            });
        s.Get(R"(/v1/tx/([0-9a-f]{64}))", [this](const http::Request& req, http::Response& res) {
            auto tx = chain.GetTx(req.matches[1]);
            if (!tx) return SendErr(res, tx.error());
            if (!*tx) {
                auto storage = chain.Storage();
                if (storage && storage->prune_height > 0) {
                    // Not held here: it may be one of the txs this node pruned.
                    return http::SendError(
                        res, 404, "pruned",
                        "no such tx held: this node is pruned (block bodies through height " +
                            std::to_string(storage->prune_height) +
                            " and other devices' txs are not kept); ask an archival node");
                }
                return http::SendError(res, 404, "not-found", "no such tx");
            }
            http::SendJson(res, TxStatusToJson(**tx));
        });
        s.Get("/v1/health", [this](const http::Request&, http::Response& res) {
            auto tip = chain.Tip();
            if (!tip) return SendErr(res, tip.error());
            auto storage = chain.Storage();
            if (!storage) return SendErr(res, storage.error());
            Json j{{"status", "ok"},
                   {"height", tip->height},
                   {"hash", ToHex(tip->hash)},
                   {"mempool", chain.MempoolSize()},
                   {"storage", StorageToJson(*storage)}};
            if (opts.peers != nullptr) j["syncing"] = opts.peers->Syncing();
            http::SendJson(res, j);
        });
        s.Get("/v1/search",
              [this](const http::Request& req, http::Response& res) { Search(req, res); });
        s.Get("/v1/registry", [this](const http::Request& req, http::Response& res) {
            auto keys = chain.Registry(Param(req, "role"));
            if (!keys) return SendErr(res, keys.error());
            Json arr = Json::array();
            for (const auto& k : *keys) arr.push_back(KeyRecordToJson(k));
            http::SendJson(res, Json{{"keys", std::move(arr)}});
        });
        s.Get(R"(/v1/blocks/([0-9a-f]{64}))",
              [this](const http::Request& req, http::Response& res) {
                  auto json = chain.BlockJson(req.matches[1]);
                  if (!json) return SendErr(res, json.error());
                  if (!*json) return http::SendError(res, 404, "not-found", "no such block");
                  http::SendJsonText(res, std::move(**json));
              });
        s.Get("/v1/blocks",
              [this](const http::Request& req, http::Response& res) { BlocksByHash(req, res); });
        s.Get("/v1/headers",
              [this](const http::Request& req, http::Response& res) { Headers(req, res); });
        s.Post(
            "/v1/blocks",
            [this](const http::Request& req, http::Response& res) { PostBlock(req, res); },
            block_body);
        s.Get("/v1/status",
              [this](const http::Request& req, http::Response& res) { StatusReq(req, res); });
        s.Get("/v1/rollouts", [this](const http::Request& req, http::Response& res) {
            const std::string product = Param(req, "product");
            if (!ValidProductName(product)) {
                return http::SendError(res, 400, "bad-param", "product is missing or not a name");
            }
            auto report = chain.Rollouts(product, NowSeconds());
            if (!report) return SendErr(res, report.error());
            http::SendJson(res, *report);
        });
        s.Get("/v1/peers", [this](const http::Request&, http::Response& res) {
            http::SendJson(res, PeersJson());
        });
        s.Post(
            "/v1/peers",
            [this](const http::Request& req, http::Response& res) { PostPeers(req, res, false); },
            small_body);
        // Nagara et al.'s prototype endpoints, same names and shapes, real rules underneath.
        s.Get("/chain", [this](const http::Request&, http::Response& res) {
            auto chain_json = ChainJson();
            if (!chain_json) return SendErr(res, chain_json.error());
            http::SendJson(res, *chain_json);
        });
        s.Post(
            "/transactions/new",
            [this](const http::Request& req, http::Response& res) { PostTx(req, res, true); },
            tx_body);
        s.Get("/mine", [this](const http::Request&, http::Response& res) { MineReq(res); });
        s.Post(
            "/nodes/register",
            [this](const http::Request& req, http::Response& res) { PostPeers(req, res, true); },
            small_body);
        s.Get("/nodes/resolve",
              [this](const http::Request&, http::Response& res) { Resolve(res); });
        AddDashboardRoutes(s, chain);  // `/`, its assets and its JSON endpoints
    }

    void StatusReq(const http::Request& req, http::Response& res) {
        const std::string product = Param(req, "product");
        if (product.empty()) return http::SendError(res, 400, "bad-param", "product is required");
        std::size_t limit = 100;
        if (auto l = Param(req, "limit"); !l.empty()) {
            auto v = ParseInt("limit", l);
            if (!v || *v < 0 || *v > 1000) {
                return http::SendError(res, 400, "bad-param", "limit must be in [0, 1000]");
            }
            limit = static_cast<std::size_t>(*v);
        }
        auto report = chain.FleetStatus(product, limit, Param(req, "cursor"));
        if (!report) return SendErr(res, report.error());
        Json out = StatusReportToJson(*report);
        // Counted from the update txs a pruned node still holds (its own devices, the recent
        // blocks): say so.
        if (auto storage = chain.Storage(); storage && storage->prune_height > 0) {
            out["prune_height"] = storage->prune_height;
        }
        http::SendJson(res, out);
    }

    Json PeersJson() {
        Json arr = Json::array();
        if (opts.peers != nullptr) {
            for (const auto& p : opts.peers->List()) {
                arr.push_back(Json{{"url", p.url},
                                   {"banned_until", p.banned_until},
                                   {"ban_reason", p.ban_reason}});
            }
        }
        return Json{{"peers", std::move(arr)}};
    }

    // POST /v1/peers {"url"} or {"peers":[...]}; /nodes/register {"nodes":[...]} (Nagara).
    void PostPeers(const http::Request& req, http::Response& res, bool nagara) {
        auto body = http::ReadJsonBody(req, res, 64 * 1024);
        if (!body) return;
        if (opts.peers == nullptr) {
            return http::SendError(res, 503, "no-network", "this node runs without peers");
        }
        std::vector<std::string> urls;
        auto collect = [&](const char* key) {
            auto it = body->find(key);
            if (it == body->end()) return;
            if (it->is_string()) urls.push_back(it->get<std::string>());
            if (it->is_array()) {
                for (const auto& u : *it) {
                    if (u.is_string()) urls.push_back(u.get<std::string>());
                }
            }
        };
        if (body->is_object()) {
            collect("url");
            collect("peers");
            collect("nodes");
        }
        if (urls.empty() || urls.size() > 64) {
            return http::SendError(res, 400, "bad-request",
                                   "give 1 to 64 peer URLs (url, peers or nodes)");
        }
        for (const auto& u : urls) {
            auto added = opts.peers->Add(u);
            if (!added) return SendErr(res, added.error());
        }
        if (!nagara) return http::SendJson(res, PeersJson());
        Json total = Json::array();
        for (const auto& p : opts.peers->List()) total.push_back(p.url);
        http::SendJson(res, Json{{"message", "New nodes have been added"}, {"total_nodes", total}},
                       201);
    }

    Expected<Json> ChainJson() {
        FW_ASSIGN(BlockInfo tip, chain.Tip());
        // The prototype returns the whole chain; bound it so one request cannot take the node's
        // memory (use /v1/headers and /v1/blocks for more).
        constexpr std::uint64_t kMaxChainBlocks = 2000;
        const std::uint64_t first =
            tip.height >= kMaxChainBlocks ? tip.height - kMaxChainBlocks + 1 : 0;
        Json blocks = Json::array();
        for (std::uint64_t h = first; h <= tip.height; ++h) {
            auto got = chain.BlockJsonAtHeight(h);
            if (!got && got.error().reason == "pruned") continue;  // a pruned node's old blocks
            FW_ASSIGN(auto text, std::move(got));
            if (!text) break;  // the tip moved during the walk
            FW_ASSIGN(Json bj, ParseJson(*text));
            bj["index"] = h;
            blocks.push_back(std::move(bj));
        }
        return Json{{"chain", std::move(blocks)}, {"length", tip.height + 1}};
    }

    void MineReq(http::Response& res) {
        if (!opts.mine_now) {
            return http::SendError(res, 403, "not-a-miner",
                                   "this node has no admitted miner key (start it with --mine)");
        }
        auto mined = opts.mine_now();
        if (!mined) return SendErr(res, mined.error());
        if (!*mined) return http::SendError(res, 503, "stale", "the tip moved, retry");
        auto text = chain.BlockJson(ToHex((*mined)->hash));
        if (!text || !*text) return http::SendError(res, 500, "internal", "mined block vanished");
        auto bj = ParseJson(**text);
        if (!bj) return http::SendError(res, 500, "internal", "mined block json");
        const BlockHeader h = BlockHeader::Deserialize((*mined)->header.data());
        http::SendJson(res, Json{{"message", "New Block Forged"},
                                 {"index", (*mined)->height},
                                 {"hash", ToHex((*mined)->hash)},
                                 {"transactions", (*bj)["txs"]},
                                 {"proof", h.nonce},
                                 {"previous_hash", ToHex(h.prev_hash)}});
    }

    void Resolve(http::Response& res) {
        if (opts.peers == nullptr) {
            return http::SendError(res, 503, "no-network", "this node runs without peers");
        }
        auto replaced = opts.peers->SyncNow();
        if (!replaced) return SendErr(res, replaced.error());
        auto chain_json = ChainJson();
        if (!chain_json) return SendErr(res, chain_json.error());
        if (*replaced) {
            return http::SendJson(res, Json{{"message", "Our chain was replaced"},
                                            {"new_chain", (*chain_json)["chain"]}});
        }
        http::SendJson(res, Json{{"message", "Our chain is authoritative"},
                                 {"chain", (*chain_json)["chain"]}});
    }

    void PostTx(const http::Request& req, http::Response& res, bool nagara = false) {
        auto body = http::ReadJsonBody(req, res, kMaxTxSize);
        if (!body) return;
        auto tx = ParseTx(*body);
        if (!tx) return http::SendError(res, 400, tx.error().reason, tx.error().message);
        auto id = chain.SubmitTx(*tx);
        if (!id) {
            const Error& e = id.error();
            if (e.reason == reject::kDuplicateTx) {
                return http::SendJson(
                    res, Json{{"error", "duplicate"}, {"id", tx->Id()}, {"message", e.message}},
                    409);
            }
            if (e.reason == reject::kReplayedNonce) {
                // The counter the device must exceed, so it can resynchronise and re-sign.
                Json answer{{"error", e.reason}, {"message", e.message}};
                auto last = chain.LastNonce(tx->sender);
                if (last && *last) answer["last_nonce"] = **last;
                return http::SendJson(res, answer, 409);
            }
            return SendErr(res, e);
        }
        if (opts.peers != nullptr) opts.peers->RelayTx(tx->ToJson());
        if (nagara) {
            auto tip = chain.Tip();
            const std::uint64_t next = tip ? tip->height + 1 : 0;
            return http::SendJson(
                res,
                Json{{"message", "Transaction will be added to Block " + std::to_string(next)},
                     {"id", *id}},
                201);
        }
        http::SendJson(res, Json{{"id", *id}, {"status", "pending"}});
    }

    void Search(const http::Request& req, http::Response& res) {
        std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
        auto q = SearchQueryFromParams(params);
        if (!q) return SendErr(res, q.error());
        auto page = chain.Search(*q);
        if (!page) return SendErr(res, page.error());
        auto tip = chain.Tip();
        if (!tip) return SendErr(res, tip.error());
        Json results = Json::array();
        std::map<std::string, std::string> miners;  // block hash -> miner key, per answer
        for (const auto& r : page->results) {
            const std::uint64_t conf = tip->height >= r.height ? tip->height - r.height + 1 : 0;
            auto miner = miners.find(r.block_hash);
            if (miner == miners.end()) {
                auto info = chain.BlockInfoByHash(r.block_hash);
                std::string key;
                if (info && *info) key = MinerOf(**info);
                miner = miners.emplace(r.block_hash, std::move(key)).first;
            }
            results.push_back(Json{{"id", r.id},
                                   {"height", r.height},
                                   {"block_hash", r.block_hash},
                                   {"miner", miner->second},
                                   {"confirmations", conf},
                                   {"tx", r.tx}});
        }
        Json out{{"results", std::move(results)}};
        out["next_cursor"] = page->next_cursor ? Json(*page->next_cursor) : Json(nullptr);
        // A pruned node's results are what it holds (docs/protocol.md): say so.
        if (auto storage = chain.Storage(); storage && storage->prune_height > 0) {
            out["prune_height"] = storage->prune_height;
        }
        http::SendJson(res, out);
    }

    // GET /v1/blocks?hashes=H1,H2,...: several blocks in one answer, for sync. Stops early
    // (fewer blocks than asked, in order) once the answer passes kMaxBlocksAnswer bytes.
    void BlocksByHash(const http::Request& req, http::Response& res) {
        const std::string list = Param(req, "hashes");
        std::vector<std::string> hashes;
        for (std::size_t pos = 0; pos <= list.size();) {
            const std::size_t comma = std::min(list.find(',', pos), list.size());
            hashes.push_back(list.substr(pos, comma - pos));
            pos = comma + 1;
        }
        if (list.empty() || hashes.size() > kMaxBlocksPerRequest) {
            return http::SendError(
                res, 400, "bad-param",
                "hashes must list 1 to " + std::to_string(kMaxBlocksPerRequest) + " block hashes");
        }
        std::string text = R"({"blocks":[)";
        std::size_t sent = 0;
        for (const auto& h : hashes) {
            if (!IsHex(h, 32)) {
                return http::SendError(res, 400, "bad-param", "not a block hash: " + h);
            }
            if (sent > 0 && text.size() > kMaxBlocksAnswer) break;
            auto json = chain.BlockJson(h);
            if (!json) return SendErr(res, json.error());
            if (!*json) return http::SendError(res, 404, "not-found", "no such block: " + h);
            if (sent++ > 0) text += ',';
            text += **json;
        }
        text += "]}";
        http::SendJsonText(res, std::move(text));
    }

    void Headers(const http::Request& req, http::Response& res) {
        std::int64_t from = 0;
        std::int64_t count = static_cast<std::int64_t>(kMaxHeadersPerRequest);
        if (auto f = Param(req, "from"); !f.empty()) {
            auto v = ParseInt("from", f);
            if (!v || *v < 0) return http::SendError(res, 400, "bad-param", "from must be >= 0");
            from = *v;
        }
        if (auto c = Param(req, "count"); !c.empty()) {
            auto v = ParseInt("count", c);
            if (!v || *v < 1 || *v > count) {
                return http::SendError(res, 400, "bad-param", "count must be in [1, 2000]");
            }
            count = *v;
        }
        auto headers =
            chain.Headers(static_cast<std::uint64_t>(from), static_cast<std::size_t>(count));
        if (!headers) return SendErr(res, headers.error());
        Json arr = Json::array();
        for (const auto& h : *headers) {
            arr.push_back(Json{{"height", h.height},
                               {"hash", ToHex(h.hash)},
                               {"header", ToHex(h.header)},
                               {"miner_sig", h.miner_sig}});
        }
        http::SendJson(res, Json{{"headers", std::move(arr)}});
    }

    void PostBlock(const http::Request& req, http::Response& res) {
        auto body = http::ReadJsonBody(req, res, kMaxBlockSize);
        if (!body) return;
        auto block = EncodedBlock::Parse(*body);
        if (!block) return http::SendError(res, 400, block.error().reason, block.error().message);
        auto connected = chain.SubmitBlock(*block, NowSeconds());
        if (!connected) {
            const Error& e = connected.error();
            if (e.reason == "orphan" && opts.peers != nullptr) {
                // A peer is ahead of us on a branch we have not seen: catch up from the best.
                opts.peers->TriggerSync();
            }
            if (e.reason != "duplicate-block") {
                spdlog::warn("rejected block {}: {}", ToHex(block->Hash()), e.ToString());
            }
            return SendErr(res, e);
        }
        if (opts.on_block) opts.on_block(*block);
        http::SendJson(res, Json{{"hash", ToHex(connected->hash)},
                                 {"height", connected->height},
                                 {"main", connected->main}});
    }
};

ApiServer::ApiServer(Chain& chain, const ApiOptions& opts)
    : impl_(std::make_unique<Impl>(chain, opts)) {}

ApiServer::~ApiServer() = default;

Expected<int> ApiServer::Bind(const std::string& host, int port) {
    return impl_->server->Listen(host, port);
}

void ApiServer::Run() { impl_->server->Wait(); }

void ApiServer::Stop() { impl_->server->Stop(); }

}  // namespace fwchain::ledger
