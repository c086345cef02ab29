#include "ledger/net/dashboard.hpp"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "common/core/bytes.hpp"
#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"

namespace fwchain::ledger {

const char* const kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "require-trusted-types-for 'script'";

namespace {

constexpr std::size_t kMaxReleases = 1000;
constexpr std::size_t kMaxBuckets = 1000;
constexpr std::size_t kMaxBlockSummaries = 100;
constexpr std::size_t kMaxMinerWindow = 2000;

Expected<std::int64_t> IntParam(const std::multimap<std::string, std::string>& p, const char* name,
                                std::int64_t fallback) {
    auto it = p.find(name);
    if (it == p.end() || it->second.empty()) return fallback;
    std::int64_t v = 0;
    const std::string& s = it->second;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        return Fail(Errc::kInvalid, "bad-param", std::string(name) + " must be an integer");
    }
    return v;
}

std::multimap<std::string, std::string> Params(const http::Request& req) {
    return {req.params.begin(), req.params.end()};
}

void SendErr(http::Response& res, const Error& e) { http::SendError(res, e); }

// A block as the explorer lists it: the header decoded, the miner named from the registry.
class BlockSummaries {
  public:
    explicit BlockSummaries(Chain& chain) : chain_(chain) {}

    Expected<Json> Of(const BlockInfo& b, std::optional<std::uint64_t> txs) {
        const BlockHeader h = BlockHeader::Deserialize(b.header.data());
        const std::string miner = ToHex(h.miner);
        Json j{{"height", b.height},    {"hash", ToHex(b.hash)},
               {"prev", ToHex(b.prev)}, {"time", b.time},
               {"bits", b.bits},        {"merkle_root", ToHex(h.merkle_root)},
               {"nonce", h.nonce},      {"main", b.main},
               {"miner", miner},        {"miner_id", KeyId(h.miner)}};
        FW_ASSIGN(const KeyRecord* rec, Key(miner));
        j["miner_subject"] = rec != nullptr ? Json(rec->subject) : Json(nullptr);
        j["miner_role"] = rec != nullptr ? Json(rec->role) : Json(nullptr);
        j["txs"] = txs ? Json(*txs) : Json(nullptr);
        return j;
    }

    // The registry record of a key, looked up once per request.
    Expected<const KeyRecord*> Key(const std::string& key_hex) {
        auto it = keys_.find(key_hex);
        if (it == keys_.end()) {
            FW_ASSIGN(auto rec, chain_.FindKey(key_hex));
            it = keys_.emplace(key_hex, std::move(rec)).first;
        }
        return it->second ? &*it->second : nullptr;
    }

  private:
    Chain& chain_;
    std::unordered_map<std::string, std::optional<KeyRecord>> keys_;
};

// GET /v1/chain/blocks?before=H&count=N (newest first) or ?hash=H (one block, main or side).
// Several reads, not one snapshot: a block connected meanwhile shows on the next refresh.
Expected<Json> ChainBlocks(Chain& chain, const std::multimap<std::string, std::string>& p) {
    FW_ASSIGN(BlockInfo tip, chain.Tip());
    BlockSummaries summaries(chain);
    Json blocks = Json::array();
    if (auto it = p.find("hash"); it != p.end()) {
        if (!IsHex(it->second, 32)) return Fail(Errc::kInvalid, "bad-param", "hash: 64 hex");
        FW_ASSIGN(auto info, chain.BlockInfoByHash(it->second));
        if (!info) return Fail(Errc::kNotFound, "not-found", "no such block");
        auto got = chain.BlockJson(it->second);
        // A pruned node holds the header of an old block but not its body.
        const bool pruned = !got && got.error().reason == "pruned";
        if (!got && !pruned) return Fail(got.error());
        std::optional<std::uint64_t> txs;
        if (!pruned && *got) {
            FW_ASSIGN(Json bj, ParseJson(**got));
            if (bj.contains("txs") && bj["txs"].is_array()) txs = bj["txs"].size();
        }
        FW_ASSIGN(Json s, summaries.Of(*info, txs));
        if (pruned) s["pruned"] = true;
        if (info->main && !pruned) {  // the ids of a main-chain block's txs, in block order
            FW_ASSIGN(auto ids, chain.BlockTxIds(info->height));
            s["tx_ids"] = ids;
        }
        blocks.push_back(std::move(s));
        return Json{{"tip", tip.height}, {"blocks", std::move(blocks)}, {"next_before", nullptr}};
    }
    FW_ASSIGN(std::int64_t before,
              IntParam(p, "before", static_cast<std::int64_t>(tip.height) + 1));
    FW_ASSIGN(std::int64_t count, IntParam(p, "count", 20));
    if (before < 1 || count < 1 || count > static_cast<std::int64_t>(kMaxBlockSummaries)) {
        return Fail(Errc::kInvalid, "bad-param", "before must be >= 1 and count in [1, 100]");
    }
    const std::uint64_t end = std::min<std::uint64_t>(static_cast<std::uint64_t>(before),
                                                      tip.height + 1);  // exclusive
    const std::uint64_t from =
        end > static_cast<std::uint64_t>(count) ? end - static_cast<std::uint64_t>(count) : 0;
    FW_ASSIGN(auto headers, chain.Headers(from, static_cast<std::size_t>(end - from)));
    std::map<std::uint64_t, std::uint64_t> counts;
    if (end > from) {
        FW_ASSIGN(counts, chain.TxCounts(from, end - 1));
    }
    for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
        auto c = counts.find(it->height);
        FW_ASSIGN(Json s, summaries.Of(*it, c == counts.end() ? 0 : c->second));
        blocks.push_back(std::move(s));
    }
    Json out{{"tip", tip.height}, {"blocks", std::move(blocks)}};
    out["next_before"] = from > 0 ? Json(from) : Json(nullptr);
    return out;
}

// GET /v1/chain/miners?window=N: who mined the newest N main-chain blocks.
Expected<Json> ChainMiners(Chain& chain, const std::multimap<std::string, std::string>& p) {
    FW_ASSIGN(BlockInfo tip, chain.Tip());
    FW_ASSIGN(std::int64_t window, IntParam(p, "window", 100));
    if (window < 1 || window > static_cast<std::int64_t>(kMaxMinerWindow)) {
        return Fail(Errc::kInvalid, "bad-param", "window must be in [1, 2000]");
    }
    const std::uint64_t n =
        std::min<std::uint64_t>(static_cast<std::uint64_t>(window), tip.height + 1);
    const std::uint64_t from = tip.height + 1 - n;
    FW_ASSIGN(auto headers, chain.Headers(from, static_cast<std::size_t>(n)));
    struct Tally {
        std::uint64_t blocks = 0;
        std::uint64_t last_height = 0;
        std::int64_t last_time = 0;
    };
    std::map<std::string, Tally> tally;
    for (const auto& b : headers) {
        const BlockHeader h = BlockHeader::Deserialize(b.header.data());
        Tally& t = tally[ToHex(h.miner)];
        ++t.blocks;
        t.last_height = b.height;
        t.last_time = b.time;
    }
    BlockSummaries names(chain);
    Json miners = Json::array();
    for (const auto& [key, t] : tally) {
        auto pub = PublicKeyFromHex(key);
        FW_ASSIGN(const KeyRecord* rec, names.Key(key));
        Json m{{"key", key},
               {"id", pub ? KeyId(*pub) : std::string()},
               {"blocks", t.blocks},
               {"last_height", t.last_height},
               {"last_time", t.last_time}};
        m["subject"] = rec != nullptr ? Json(rec->subject) : Json(nullptr);
        m["role"] = rec != nullptr ? Json(rec->role) : Json(nullptr);
        m["revoked"] = rec != nullptr && rec->revoked;
        miners.push_back(std::move(m));
    }
    std::stable_sort(miners.begin(), miners.end(), [](const Json& a, const Json& b) {
        return a["blocks"].get<std::uint64_t>() > b["blocks"].get<std::uint64_t>();
    });
    return Json{{"from", from}, {"to", tip.height}, {"window", n}, {"miners", std::move(miners)}};
}

void SendAsset(const DashboardAsset& a, http::Response& res) {
    res.SetContent(std::string(a.bytes), std::string(a.content_type));
    res.SetHeader("Content-Security-Policy", kDashboardCsp);
    res.SetHeader("X-Content-Type-Options", "nosniff");
    res.SetHeader("X-Frame-Options", "DENY");
    res.SetHeader("Referrer-Policy", "no-referrer");
    res.SetHeader("Cache-Control", "no-cache");
}

}  // namespace

Expected<ActivityQuery> ActivityQueryFromParams(const std::multimap<std::string, std::string>& p,
                                                std::int64_t now) {
    ActivityQuery q;
    if (auto it = p.find("product"); it != p.end()) q.product = it->second;
    FW_ASSIGN(q.bucket, IntParam(p, "bucket", 3600));
    if (q.bucket < 1 || q.bucket > 366 * 86400) {
        return Fail(Errc::kInvalid, "bad-param", "bucket must be in [1, 31622400] seconds");
    }
    FW_ASSIGN(std::int64_t until, IntParam(p, "until", now));
    FW_ASSIGN(q.since, IntParam(p, "since", until - 24 * q.bucket));
    if (q.since >= until) return Fail(Errc::kInvalid, "bad-param", "since must be before until");
    const std::int64_t n = (until - q.since + q.bucket - 1) / q.bucket;
    if (n > static_cast<std::int64_t>(kMaxBuckets)) {
        return Fail(Errc::kInvalid, "bad-param",
                    "(until - since) / bucket must be at most 1000 buckets");
    }
    q.buckets = static_cast<std::size_t>(n);
    return q;
}

Json ProductsToJson(const std::vector<ProductSummary>& products) {
    Json arr = Json::array();
    for (const auto& p : products) {
        Json j{{"product", p.product}, {"releases", p.releases}, {"devices", p.devices}};
        j["latest"] = p.releases > 0
                          ? Json{{"version", p.latest_version}, {"sequence", p.latest_sequence}}
                          : Json(nullptr);
        arr.push_back(std::move(j));
    }
    return Json{{"products", std::move(arr)}};
}

Json ReleasesToJson(const std::string& product, const std::vector<ReleaseSummary>& releases,
                    std::uint64_t tip_height) {
    Json arr = Json::array();
    for (const auto& r : releases) {
        arr.push_back(
            Json{{"id", r.id},
                 {"version", r.version},
                 {"sequence", r.sequence},
                 {"height", r.height},
                 {"block_hash", r.block_hash},
                 {"time", r.time},
                 {"confirmations", tip_height >= r.height ? tip_height - r.height + 1 : 0},
                 {"outcomes", Json(r.outcomes)}});
    }
    return Json{{"product", product}, {"releases", std::move(arr)}};
}

Json ActivityToJson(const ActivityQuery& q, const ActivityCounts& counts) {
    Json buckets = Json::array();
    for (std::size_t i = 0; i < q.buckets; ++i) {
        auto it = counts.find(i);
        buckets.push_back(Json{{"start", q.since + static_cast<std::int64_t>(i) * q.bucket},
                               {"counts", it == counts.end() ? Json::object() : Json(it->second)}});
    }
    Json out{{"product", q.product},
             {"since", q.since},
             {"until", q.since + static_cast<std::int64_t>(q.buckets) * q.bucket},
             {"bucket", q.bucket},
             {"buckets", std::move(buckets)}};
    return out;
}

void AddDashboardRoutes(http::Router& routes, Chain& chain) {
    // Static assets: copies of bytes in the binary, answered on the event thread.
    std::size_t n = 0;
    const DashboardAsset* assets = DashboardAssets(&n);
    auto by_path = std::make_shared<std::map<std::string, const DashboardAsset*, std::less<>>>();
    for (std::size_t i = 0; i < n; ++i) (*by_path)[std::string(assets[i].path)] = &assets[i];
    auto serve = [by_path](const http::Request& req, http::Response& res) {
        auto it = by_path->find(req.path);
        if (it == by_path->end()) return http::SendError(res, 404, "not-found", "no such file");
        SendAsset(*it->second, res);
    };
    const http::RouteOptions inline_route{http::Exec::kInline, 0, false};
    routes.Get("/", serve, inline_route);
    routes.Get(R"(/dashboard/[a-z0-9][a-z0-9._-]*)", serve, inline_route);

    // JSON endpoints (SQLite, the chain lock): worker threads.
    routes.Get("/v1/products", [&chain](const http::Request&, http::Response& res) {
        auto products = chain.Products();
        if (!products) return SendErr(res, products.error());
        http::SendJson(res, ProductsToJson(*products));
    });
    routes.Get("/v1/releases", [&chain](const http::Request& req, http::Response& res) {
        const std::string product = req.Param("product");
        if (product.empty()) return http::SendError(res, 400, "bad-param", "product is required");
        auto limit = IntParam(Params(req), "limit", 100);
        if (!limit || *limit < 1 || *limit > static_cast<std::int64_t>(kMaxReleases)) {
            return http::SendError(res, 400, "bad-param", "limit must be in [1, 1000]");
        }
        auto tip = chain.Tip();
        if (!tip) return SendErr(res, tip.error());
        auto releases = chain.Releases(product, static_cast<std::size_t>(*limit));
        if (!releases) return SendErr(res, releases.error());
        Json out = ReleasesToJson(product, *releases, tip->height);
        // Each release's rollout (docs/rollouts.md): stage, approvals, state and reason.
        auto rollouts = chain.Rollouts(product, NowSeconds());
        if (!rollouts) return SendErr(res, rollouts.error());
        std::map<std::string, const Json*> by_tx;
        for (const auto& r : (*rollouts)["releases"]) by_tx[r.value("tx", "")] = &r;
        for (auto& rel : out["releases"]) {
            auto it = by_tx.find(rel.value("id", ""));
            if (it == by_tx.end()) continue;
            const Json& r = *it->second;
            rel["state"] = r["state"];
            rel["reason"] = r["reason"];
            rel["approvals"] = {{"have", r["approvals"]["have"]}, {"need", r["approvals"]["need"]}};
            if (r["stage"].is_object()) {
                Json percents = Json::array();
                for (const auto& st : r["rollout"]["stages"]) percents.push_back(st["percent"]);
                rel["stage"] = {{"index", r["stage"]["index"]},
                                {"percent", r["stage"]["percent"]},
                                {"stages", std::move(percents)}};
            }
        }
        http::SendJson(res, out);
    });
    routes.Get("/v1/activity", [&chain](const http::Request& req, http::Response& res) {
        auto q = ActivityQueryFromParams(Params(req), NowSeconds());
        if (!q) return SendErr(res, q.error());
        auto counts = chain.Activity(*q);
        if (!counts) return SendErr(res, counts.error());
        http::SendJson(res, ActivityToJson(*q, *counts));
    });
    routes.Get("/v1/chain/blocks", [&chain](const http::Request& req, http::Response& res) {
        auto out = ChainBlocks(chain, Params(req));
        if (!out) return SendErr(res, out.error());
        http::SendJson(res, *out);
    });
    routes.Get("/v1/chain/miners", [&chain](const http::Request& req, http::Response& res) {
        auto out = ChainMiners(chain, Params(req));
        if (!out) return SendErr(res, out.error());
        http::SendJson(res, *out);
    });
}

}  // namespace fwchain::ledger
