#include "ledger/net/api.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/adapters/http.hpp"
#include "common/core/fs.hpp"

namespace fwchain::ledger {

namespace {

constexpr std::size_t kMaxHeadersPerRequest = 2000;

int HttpStatusFor(const Error& e) {
    if (e.reason == "mempool-full") return 503;
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

void SendErr(httplib::Response& res, const Error& e) {
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

std::string Param(const httplib::Request& req, const char* name) {
    return req.has_param(name) ? req.get_param_value(name) : std::string();
}

}  // namespace

Json TipToJson(const BlockInfo& tip) {
    return Json{{"height", tip.height},
                {"hash", ToHex(tip.hash)},
                {"time", tip.time},
                {"bits", tip.bits},
                {"work", WorkToHex(tip.work)}};
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
    std::unique_ptr<httplib::Server> server;

    Impl(Chain& c, const ApiOptions& opts) : chain(c) {
        http::ServerOptions so;
        so.threads = opts.threads;
        // A block is the largest request; everything else is far below.
        so.max_body = kMaxBlockSize + 64 * 1024;
        server = http::MakeServer(so);
        Routes();
    }

    void Routes() {
        auto& s = *server;
        s.Post("/v1/tx",
               [this](const httplib::Request& req, httplib::Response& res) { PostTx(req, res); });
        s.Get("/v1/tip", [this](const httplib::Request&, httplib::Response& res) {
            auto tip = chain.Tip();
            if (!tip) return SendErr(res, tip.error());
            http::SendJson(res, TipToJson(*tip));
        });
        s.Get(R"(/v1/tx/([0-9a-f]{64}))",
              [this](const httplib::Request& req, httplib::Response& res) {
                  auto tx = chain.GetTx(req.matches[1].str());
                  if (!tx) return SendErr(res, tx.error());
                  if (!*tx) return http::SendError(res, 404, "not-found", "no such tx");
                  http::SendJson(res, TxStatusToJson(**tx));
              });
        s.Get("/v1/search",
              [this](const httplib::Request& req, httplib::Response& res) { Search(req, res); });
        s.Get("/v1/registry", [this](const httplib::Request& req, httplib::Response& res) {
            auto keys = chain.Registry(Param(req, "role"));
            if (!keys) return SendErr(res, keys.error());
            Json arr = Json::array();
            for (const auto& k : *keys) arr.push_back(KeyRecordToJson(k));
            http::SendJson(res, Json{{"keys", std::move(arr)}});
        });
        s.Get(R"(/v1/blocks/([0-9a-f]{64}))",
              [this](const httplib::Request& req, httplib::Response& res) {
                  auto json = chain.BlockJson(req.matches[1].str());
                  if (!json) return SendErr(res, json.error());
                  if (!*json) return http::SendError(res, 404, "not-found", "no such block");
                  http::SendJsonText(res, std::move(**json));
              });
        s.Get("/v1/headers",
              [this](const httplib::Request& req, httplib::Response& res) { Headers(req, res); });
        s.Post("/v1/blocks", [this](const httplib::Request& req, httplib::Response& res) {
            PostBlock(req, res);
        });
    }

    void PostTx(const httplib::Request& req, httplib::Response& res) {
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
            return SendErr(res, e);
        }
        http::SendJson(res, Json{{"id", *id}, {"status", "pending"}});
    }

    void Search(const httplib::Request& req, httplib::Response& res) {
        std::multimap<std::string, std::string> params(req.params.begin(), req.params.end());
        auto q = SearchQueryFromParams(params);
        if (!q) return SendErr(res, q.error());
        auto page = chain.Search(*q);
        if (!page) return SendErr(res, page.error());
        auto tip = chain.Tip();
        if (!tip) return SendErr(res, tip.error());
        Json results = Json::array();
        for (const auto& r : page->results) {
            const std::uint64_t conf = tip->height >= r.height ? tip->height - r.height + 1 : 0;
            results.push_back(Json{{"id", r.id},
                                   {"height", r.height},
                                   {"block_hash", r.block_hash},
                                   {"confirmations", conf},
                                   {"tx", r.tx}});
        }
        Json out{{"results", std::move(results)}};
        out["next_cursor"] = page->next_cursor ? Json(*page->next_cursor) : Json(nullptr);
        http::SendJson(res, out);
    }

    void Headers(const httplib::Request& req, httplib::Response& res) {
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
            arr.push_back(
                Json{{"height", h.height}, {"hash", ToHex(h.hash)}, {"header", ToHex(h.header)}});
        }
        http::SendJson(res, Json{{"headers", std::move(arr)}});
    }

    void PostBlock(const httplib::Request& req, httplib::Response& res) {
        auto body = http::ReadJsonBody(req, res, kMaxBlockSize);
        if (!body) return;
        auto block = Block::FromJson(*body);
        if (!block) return http::SendError(res, 400, block.error().reason, block.error().message);
        // FromJson ran ParseTx, which verified every tx signature.
        auto connected = chain.SubmitBlock(*block, NowSeconds(), true);
        if (!connected) {
            spdlog::warn("rejected block {}: {}", ToHex(block->Hash()),
                         connected.error().ToString());
            return SendErr(res, connected.error());
        }
        http::SendJson(res, Json{{"hash", ToHex(connected->hash)}, {"height", connected->height}});
    }
};

ApiServer::ApiServer(Chain& chain, const ApiOptions& opts)
    : impl_(std::make_unique<Impl>(chain, opts)) {}

ApiServer::~ApiServer() = default;

Expected<int> ApiServer::Bind(const std::string& host, int port) {
    return http::Bind(*impl_->server, host, port);
}

void ApiServer::Run() { impl_->server->listen_after_bind(); }

void ApiServer::Stop() { impl_->server->stop(); }

}  // namespace fwchain::ledger
