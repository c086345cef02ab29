#pragma once
// How programs outside the ledger talk to it (the gateway's poller, report relay and device
// proofs, the vendor server's outbox and checkpoints): one interface, two implementations.
// - ConnectLedger(url): HTTP to a node (docs/protocol.md "Ledger node HTTP API").
// - LocalLedgerClient (ledger/net/local_client.hpp): in process, over an embedded node's chain.
// No URL or JSON shape of the ledger API is written outside this seam and the API itself.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::ledger {

// A tx as a node shows it: on the main chain (with its block and Merkle path) or pending.
struct TxView {
    std::string id;
    Json tx;
    std::optional<std::string> block_hash;
    std::optional<std::uint64_t> height;
    std::uint64_t confirmations = 0;
    Json proof = Json::array();  // [{"side","hash"}], empty while pending
};

struct TipView {
    std::uint64_t height = 0;
    std::string hash;  // hex
};

// A main-chain header with its miner's signature, both hex (GET /v1/headers).
struct HeaderView {
    std::uint64_t height = 0;
    std::string hash;
    std::string header;
    std::string miner_sig;
};

// A registry entry (GET /v1/registry).
struct KeyView {
    std::string key;
    std::string subject;
    std::string role;
    std::string product;
    bool revoked = false;
};

// GET /v1/search, the filters the programs use; results newest first.
struct TxSearch {
    std::string type;
    std::string product;
    std::string device;
    std::size_t limit = 100;
    std::string cursor;  // from a previous page
};
struct TxSearchPage {
    std::vector<TxView> results;
    std::optional<std::string> next_cursor;
};

// What became of a submitted tx. Refusals for the tx itself (bad signature, unknown or revoked
// key, ...) are errors carrying the node's reason; kNetwork errors mean "try again later".
struct SubmitResult {
    enum class Kind { kAccepted, kDuplicate, kStaleNonce };
    Kind kind = Kind::kAccepted;
    std::string id;
    std::optional<std::uint64_t> last_nonce;  // kStaleNonce: the counter to exceed
    std::string message;
};

class LedgerClient {
  public:
    virtual ~LedgerClient() = default;
    // For messages: the node's URL, or "the embedded ledger node".
    virtual std::string Where() const = 0;

    virtual Expected<TipView> Tip() = 0;
    virtual Expected<std::optional<TxView>> GetTx(const std::string& id) = 0;
    virtual Expected<TxSearchPage> Search(const TxSearch& q) = 0;
    virtual Expected<std::vector<HeaderView>> Headers(std::uint64_t from, std::size_t count) = 0;
    virtual Expected<std::vector<KeyView>> Registry(const std::string& role) = 0;
    // The rollout evidence of a product's releases (GET /v1/rollouts, docs/rollouts.md).
    virtual Expected<Json> Rollouts(const std::string& product) = 0;
    // Submits a signed tx (its JSON form).
    virtual Expected<SubmitResult> Submit(const Json& tx) = 0;

    // Blocks until the main chain's tip differs from `seen` (a token from an earlier call; 0
    // at first), `timeout` passes or Interrupt() is called; returns the current token. The
    // embedded node wakes its waiters; over HTTP the tip is read once a second.
    virtual std::uint64_t WaitForTipChange(std::uint64_t seen,
                                           std::chrono::milliseconds timeout) = 0;
    // Wakes WaitForTipChange callers (a program shutting down).
    virtual void Interrupt() = 0;
};

// An HTTP client of the node at `url` (http://host:port[/base]).
Expected<std::unique_ptr<LedgerClient>> ConnectLedger(const std::string& url);

// The token WaitForTipChange compares: the first 8 bytes of the tip hash, never 0.
std::uint64_t TipToken(const std::string& tip_hash_hex);

}  // namespace fwchain::ledger
