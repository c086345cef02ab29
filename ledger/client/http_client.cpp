// LedgerClient over HTTP: the one place outside the node that knows the API's paths and shapes.
#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/adapters/http.hpp"
#include "common/core/bytes.hpp"
#include "ledger/client/client.hpp"

namespace fwchain::ledger {

namespace {

constexpr std::size_t kSmall = 1 << 20;      // one tx, the tip, one registry entry
constexpr std::size_t kLarge = 64ull << 20;  // header batches, the registry, rollouts
constexpr std::size_t kMaxHeaders = 2000;    // per GET /v1/headers
// How often a waiting caller reads the tip: a node has no push channel for clients.
constexpr auto kTipPoll = std::chrono::seconds(1);

Expected<TxView> TxViewFrom(const Json& j) {
    if (!j.is_object()) return Fail(Errc::kInvalid, "bad-answer", "a tx answer is not an object");
    TxView v;
    FW_ASSIGN(v.id, GetString(j, "id"));
    auto tx = j.find("tx");
    if (tx == j.end() || !tx->is_object()) {
        return Fail(Errc::kInvalid, "bad-answer", "a tx answer has no tx");
    }
    v.tx = *tx;
    if (auto b = j.find("block_hash"); b != j.end() && b->is_string()) {
        v.block_hash = b->get<std::string>();
    }
    if (auto h = j.find("height"); h != j.end() && h->is_number_unsigned()) {
        v.height = h->get<std::uint64_t>();
    }
    v.confirmations = j.value("confirmations", std::uint64_t{0});
    if (auto p = j.find("proof"); p != j.end() && p->is_array()) v.proof = *p;
    return v;
}

class HttpLedgerClient final : public LedgerClient {
  public:
    explicit HttpLedgerClient(std::string url) : url_(std::move(url)) {}

    std::string Where() const override { return url_; }

    Expected<TipView> Tip() override {
        FW_ASSIGN(Json j, Get("/v1/tip", kSmall));
        TipView t;
        FW_ASSIGN(t.height, GetUint(j, "height"));
        FW_ASSIGN(t.hash, GetString(j, "hash"));
        return t;
    }

    Expected<std::optional<TxView>> GetTx(const std::string& id) override {
        if (!IsHex(id, 32)) return std::optional<TxView>();
        auto j = Get("/v1/tx/" + id, kSmall);
        if (!j && j.error().code == Errc::kNotFound) return std::optional<TxView>();
        if (!j) return Fail(j.error());
        FW_ASSIGN(TxView v, TxViewFrom(*j));
        return std::optional<TxView>(std::move(v));
    }

    Expected<TxSearchPage> Search(const TxSearch& q) override {
        std::string path = "/v1/search?limit=" + std::to_string(q.limit);
        auto add = [&path](const char* name, const std::string& v) {
            if (!v.empty()) path += std::string("&") + name + "=" + http::UrlEncode(v);
        };
        add("type", q.type);
        add("product", q.product);
        add("device", q.device);
        add("cursor", q.cursor);
        FW_ASSIGN(Json j, Get(path, kLarge));
        FW_ASSIGN(const Json* results, GetArray(j, "results"));
        TxSearchPage page;
        for (const auto& item : *results) {
            FW_ASSIGN(TxView v, TxViewFrom(item));
            page.results.push_back(std::move(v));
        }
        if (auto c = j.find("next_cursor"); c != j.end() && c->is_string()) {
            page.next_cursor = c->get<std::string>();
        }
        return page;
    }

    Expected<std::vector<HeaderView>> Headers(std::uint64_t from, std::size_t count) override {
        if (count == 0) return std::vector<HeaderView>{};
        FW_ASSIGN(Json j, Get("/v1/headers?from=" + std::to_string(from) +
                                  "&count=" + std::to_string(std::min(count, kMaxHeaders)),
                              kLarge));
        FW_ASSIGN(const Json* list, GetArray(j, "headers"));
        std::vector<HeaderView> out;
        out.reserve(list->size());
        for (const auto& h : *list) {
            HeaderView v;
            FW_ASSIGN(v.height, GetUint(h, "height"));
            FW_ASSIGN(v.hash, GetString(h, "hash"));
            FW_ASSIGN(v.header, GetString(h, "header"));
            FW_ASSIGN(v.miner_sig, GetString(h, "miner_sig"));
            out.push_back(std::move(v));
        }
        return out;
    }

    Expected<std::vector<KeyView>> Registry(const std::string& role) override {
        FW_ASSIGN(Json j, Get("/v1/registry?role=" + http::UrlEncode(role), kLarge));
        FW_ASSIGN(const Json* keys, GetArray(j, "keys"));
        std::vector<KeyView> out;
        out.reserve(keys->size());
        for (const auto& k : *keys) {
            KeyView v;
            FW_ASSIGN(v.key, GetString(k, "key"));
            FW_ASSIGN(v.subject, GetString(k, "subject"));
            v.role = k.value("role", std::string());
            v.product = k.value("product", std::string());
            v.revoked = k.value("revoked", false);
            out.push_back(std::move(v));
        }
        return out;
    }

    Expected<Json> Rollouts(const std::string& product) override {
        return Get("/v1/rollouts?product=" + http::UrlEncode(product), kLarge);
    }

    Expected<SubmitResult> Submit(const Json& tx) override {
        const std::string text = Canonical(tx);
        FW_ASSIGN(auto client, http::Client::For(url_));
        auto res = client.Send("POST", "/v1/tx", &text, {}, kSmall);
        if (!res) {
            return Fail(Errc::kNetwork, "ledger-unreachable",
                        "submitting to " + url_ + ": " + res.error().message);
        }
        auto answer = ParseJson(res->body, kSmall);
        const bool object = answer && answer->is_object();
        SubmitResult out;
        if (object) {
            out.id = answer->value("id", std::string());
            out.message = answer->value("message", std::string());
        }
        if (res->status >= 200 && res->status < 300) return out;
        std::string reason = "ledger-http-" + std::to_string(res->status);
        std::string message =
            "the ledger at " + url_ + " answered HTTP " + std::to_string(res->status);
        if (object) {
            if (auto r = GetString(*answer, "error")) reason = *r;
            if (auto m = GetString(*answer, "message")) message = *m;
        }
        if (res->status == 409 && reason == "duplicate") {
            out.kind = SubmitResult::Kind::kDuplicate;
            return out;
        }
        if (res->status == 409 && reason == "replayed-nonce") {
            out.kind = SubmitResult::Kind::kStaleNonce;
            if (object) {
                if (auto last = GetUint(*answer, "last_nonce")) out.last_nonce = *last;
            }
            return out;
        }
        // The node refused the tx itself (4xx), or cannot take it now (5xx, 408, 429).
        Errc code = Errc::kInvalid;
        if (res->status == 401 || res->status == 403) code = Errc::kUnauthorized;
        if (res->status == 409) code = Errc::kConflict;
        if (res->status == 413) code = Errc::kTooLarge;
        if (res->status >= 500 || res->status == 408 || res->status == 429) code = Errc::kNetwork;
        return Fail(code, reason, message);
    }

    // Reads the tip once a second until it moved, the timeout passed or Interrupt().
    std::uint64_t WaitForTipChange(std::uint64_t seen, std::chrono::milliseconds timeout) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::unique_lock lock(wait_mu_);
        const std::uint64_t interrupts = interrupts_;
        for (;;) {
            lock.unlock();
            auto tip = Tip();
            lock.lock();
            const std::uint64_t token = tip ? TipToken(tip->hash) : seen;
            const auto now = std::chrono::steady_clock::now();
            if (token != seen || now >= deadline || interrupts_ != interrupts) return token;
            wait_cv_.wait_until(lock, std::min(deadline, now + kTipPoll),
                                [&] { return interrupts_ != interrupts; });
        }
    }

    void Interrupt() override {
        std::lock_guard lock(wait_mu_);
        ++interrupts_;
        wait_cv_.notify_all();
    }

  private:
    // A connection per request: callers (report relays) run concurrently.
    Expected<Json> Get(const std::string& path, std::size_t max) {
        FW_ASSIGN(auto client, http::Client::For(url_));
        return client.GetJson(path, max);
    }

    std::string url_;
    std::mutex wait_mu_;
    std::condition_variable wait_cv_;
    std::uint64_t interrupts_ = 0;
};

}  // namespace

std::uint64_t TipToken(const std::string& tip_hash_hex) {
    std::uint64_t token = 0;
    for (std::size_t i = 0; i < 16 && i < tip_hash_hex.size(); ++i) {
        const char c = tip_hash_hex[i];
        const std::uint64_t nibble = c >= '0' && c <= '9' ? static_cast<std::uint64_t>(c - '0')
                                     : c >= 'a' && c <= 'f'
                                         ? static_cast<std::uint64_t>(c - 'a' + 10)
                                         : 0;
        token = token << 4 | nibble;
    }
    return token == 0 ? 1 : token;
}

Expected<std::unique_ptr<LedgerClient>> ConnectLedger(const std::string& url) {
    FW_TRY(http::ParseUrl(url));
    return std::unique_ptr<LedgerClient>(new HttpLedgerClient(url));
}

}  // namespace fwchain::ledger
