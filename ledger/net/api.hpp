#pragma once
// The HTTP API of a ledger node (docs/protocol.md "Ledger node HTTP API"). No HTTP library type
// in this header: embedding programs (gateway, vendor-server) include it cheaply.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/adapters/http_server.hpp"
#include "common/core/expected.hpp"
#include "common/core/json.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/net/peers.hpp"

namespace fwchain::ledger {

struct ApiOptions {
    http::ServerOptions server;  // limits of the HTTP front
    // Gossip, peer list and sync; null for a node without networking (tests, embedding).
    PeerManager* peers = nullptr;
    // Mines one block now (GET /mine); null when this node is not a miner.
    std::function<Expected<std::optional<BlockInfo>>()> mine_now;
    // Called after a block was mined or accepted through the API, to relay it.
    std::function<void(const EncodedBlock&)> on_block;
};

class ApiServer {
  public:
    ApiServer(Chain& chain, const ApiOptions& opts);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // Binds host:port (0 = any free port), starts serving and returns the bound port.
    Expected<int> Bind(const std::string& host, int port);
    // Blocks until Stop().
    void Run();
    void Stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// JSON shapes shared by the API and its tests.
// GET /v1/tip: the tip and whether this node prunes (peers pick archival ones for old blocks).
Json TipToJson(const BlockInfo& tip, const StorageStatus& storage = {});
// The "storage" object of GET /v1/health.
Json StorageToJson(const StorageStatus& s);
// The key (hex) that mined the block.
std::string MinerOf(const BlockInfo& b);
Json TxStatusToJson(const TxStatus& s);
Json KeyRecordToJson(const KeyRecord& k);
Json StatusReportToJson(const StatusReport& r);
// Parses GET /v1/search parameters into a query; rejects bad numbers and limits.
Expected<SearchQuery> SearchQueryFromParams(const std::multimap<std::string, std::string>& params);

}  // namespace fwchain::ledger
