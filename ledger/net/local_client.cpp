#include "ledger/net/local_client.hpp"

#include <algorithm>

#include "common/core/fs.hpp"
#include "common/core/names.hpp"

namespace fwchain::ledger {

namespace {

constexpr std::size_t kMaxHeaders = 2000;  // as GET /v1/headers

class Local final : public LedgerClient {
  public:
    Local(Chain& chain, PeerManager* peers) : chain_(chain), peers_(peers) {}

    std::string Where() const override { return "the embedded ledger node"; }

    Expected<TipView> Tip() override {
        FW_ASSIGN(BlockInfo tip, chain_.Tip());
        return TipView{tip.height, ToHex(tip.hash)};
    }

    Expected<std::optional<TxView>> GetTx(const std::string& id) override {
        if (!IsHex(id, 32)) return std::optional<TxView>();
        return chain_.GetTx(id);
    }

    Expected<TxSearchPage> Search(const TxSearch& q) override {
        SearchQuery sq;
        sq.type = q.type;
        sq.product = q.product;
        sq.device = q.device;
        sq.limit = q.limit;
        sq.cursor = q.cursor;
        FW_ASSIGN(SearchPage page, chain_.Search(sq));
        FW_ASSIGN(BlockInfo tip, chain_.Tip());
        TxSearchPage out;
        out.next_cursor = page.next_cursor;
        out.results.reserve(page.results.size());
        for (auto& r : page.results) {
            TxView v;
            v.id = std::move(r.id);
            v.tx = std::move(r.tx);
            v.block_hash = std::move(r.block_hash);
            v.height = r.height;
            v.confirmations = tip.height >= r.height ? tip.height - r.height + 1 : 0;
            out.results.push_back(std::move(v));
        }
        return out;
    }

    Expected<std::vector<HeaderView>> Headers(std::uint64_t from, std::size_t count) override {
        FW_ASSIGN(auto headers, chain_.Headers(from, std::min(count, kMaxHeaders)));
        std::vector<HeaderView> out;
        out.reserve(headers.size());
        for (const auto& h : headers)
            out.push_back({h.height, ToHex(h.hash), ToHex(h.header), h.miner_sig});
        return out;
    }

    Expected<std::vector<KeyView>> Registry(const std::string& role) override {
        FW_ASSIGN(auto keys, chain_.Registry(role));
        std::vector<KeyView> out;
        out.reserve(keys.size());
        for (const auto& k : keys) out.push_back({k.key, k.subject, k.role, k.product, k.revoked});
        return out;
    }

    Expected<Json> Rollouts(const std::string& product) override {
        if (!ValidProductName(product)) {
            return Fail(Errc::kInvalid, "bad-param", "product is missing or not a name");
        }
        return chain_.Rollouts(product, NowSeconds());
    }

    Expected<SubmitResult> Submit(const Json& json) override {
        FW_ASSIGN(Tx tx, ParseTx(json));
        SubmitResult out;
        out.id = tx.Id();
        auto id = chain_.SubmitTx(tx);
        if (!id) {
            const Error& e = id.error();
            out.message = e.message;
            if (e.reason == reject::kDuplicateTx) {
                out.kind = SubmitResult::Kind::kDuplicate;
                return out;
            }
            if (e.reason == reject::kReplayedNonce) {
                out.kind = SubmitResult::Kind::kStaleNonce;
                auto last = chain_.LastNonce(tx.sender);
                if (last && *last) out.last_nonce = **last;
                return out;
            }
            return Fail(e);
        }
        if (peers_ != nullptr) peers_->RelayTx(tx.ToJson());
        return out;
    }

    std::uint64_t WaitForTipChange(std::uint64_t seen, std::chrono::milliseconds timeout) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const std::uint64_t generation = chain_.Generation();
            auto tip = chain_.Tip();
            const std::uint64_t token = tip ? TipToken(ToHex(tip->hash)) : seen;
            const auto now = std::chrono::steady_clock::now();
            if (token != seen || now >= deadline || interrupted_.exchange(false)) return token;
            chain_.WaitForChange(
                generation, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
        }
    }

    void Interrupt() override {
        interrupted_ = true;
        chain_.Interrupt();
    }

  private:
    Chain& chain_;
    PeerManager* peers_;
    std::atomic<bool> interrupted_{false};
};

}  // namespace

std::unique_ptr<LedgerClient> LocalLedgerClient(Chain& chain, PeerManager* peers) {
    return std::make_unique<Local>(chain, peers);
}

}  // namespace fwchain::ledger
