#pragma once
// `vendor-server serve`: the HTTP API plus a background worker that delivers the outbox to the
// ledger and keeps the timestamp fresh.
#include <cstdint>
#include <string>
#include <vector>

#include "common/adapters/http_server.hpp"
#include "common/core/crypto.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"
#include "vendor-server/metadata_store.hpp"

namespace fwchain::vendor {

// The periodic work of `serve`, one Tick per second; separate from the server so tests can
// drive it deterministically.
// How `serve` signs ledger facts into the timestamp (docs/protocol.md "Ledger proofs").
struct CheckpointPolicy {
    // A block is named (checkpoint, release block) only once this many blocks are on top of it:
    // the ledger refuses reorgs deeper than its finality depth (64 by default).
    std::uint64_t margin = 64;
    // The checkpoint moves when the tip has gone this many blocks past margin + the signed one;
    // a device's proof then carries at most about margin + interval + 64 headers.
    std::uint64_t interval = 256;
};

class Maintainer {
  public:
    static Expected<Maintainer> Create(const DataDir& dir, std::string ledger_url,
                                       CheckpointPolicy checkpoints = {});
    // Submits the outbox (when a ledger is configured) and re-signs the timestamp when it is
    // past half its lifetime or out of date with the catalog. The timestamp key is read on
    // each re-signing, so a `rotate-key --role timestamp` takes effect without a restart. Failures
    // are returned after the other half of the work ran, so a ledger outage does not stop timestamp
    // refreshes.
    // With a ledger, the timestamp is also re-signed when the checkpoint can move by `interval`
    // or a named release's block is `margin` deep.
    Status Tick(std::int64_t now);

  private:
    Maintainer(DataDir dir, VendorConfig cfg, Catalog catalog, std::string ledger_url,
               CheckpointPolicy checkpoints);
    // What the ledger says now that the current timestamp does not; nullopt-like empty facts when
    // nothing changed.
    Expected<LedgerFacts> ReadLedgerFacts();
    CheckpointPolicy checkpoints_;
    DataDir dir_;
    VendorConfig cfg_;
    Catalog catalog_;
    std::string ledger_url_;
    std::string last_network_error_;
};

struct ServeOptions {
    std::string data_dir;
    std::string listen = "127.0.0.1:7410";
    std::string ledger_url;
    CheckpointPolicy checkpoints;
    std::string public_url;        // web seed / tracker base URL; default http(s)://LISTEN
    std::string admin_token_file;  // enables the admin API; mode 0600, one line
    std::string tls_cert;          // PEM; with tls_key: HTTPS
    std::string tls_key;
    std::int64_t tracker_interval = 1800;
    // The vendor's own BitTorrent seeder (BEP 16 super-seeding of every release image).
    std::string bt_listen = "0.0.0.0:7411";
    bool no_bittorrent = false;
    http::ServerOptions http;  // the HTTP front's limits
    // Ledger nodes new gateways bootstrap from (GET /v1/ledger-peers); default: --ledger.
    std::vector<std::string> ledger_peers;
};

// The admin token: from `file` (must not be readable by group/others), else from the
// FWCHAIN_ADMIN_TOKEN environment variable, else "" (admin API off). Trailing newline trimmed.
Expected<std::string> LoadAdminToken(const std::string& file);

// Blocks until SIGTERM/SIGINT. Prints "listening on HOST:PORT" on stdout once bound.
Status Serve(const ServeOptions& opts);

}  // namespace fwchain::vendor
