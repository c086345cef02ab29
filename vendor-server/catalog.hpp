#pragma once
// catalog.sqlite: what the vendor has published and admitted, and the outbox of ledger txs not
// yet accepted by a ledger node. Several processes share it (publish from CI while `serve`
// runs); SQLite's WAL and BEGIN IMMEDIATE serialise the writers.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/adapters/sqlite.hpp"
#include "common/core/tx.hpp"

namespace fwchain::vendor {

struct ReleaseRow {
    std::string product;
    std::uint64_t sequence = 0;
    std::string version;
    std::string tag;
    std::string commit;
    std::string repo;
    std::string image_sha256;
    std::uint64_t image_size = 0;
    std::string manifest_sha256;
    std::string tx_id;
    std::int64_t created = 0;
};

struct ProductRow {
    std::string product;
    std::uint64_t releases = 0;
    std::uint64_t latest_sequence = 0;
    std::string latest_version;
};

struct TorrentRow {
    std::string image_sha256;
    std::string infohash_v1;  // 40 hex
    std::string infohash_v2;  // 64 hex
};

namespace outbox {
inline constexpr const char* kPending = "pending";
inline constexpr const char* kAccepted = "accepted";
inline constexpr const char* kRejected = "rejected";
}  // namespace outbox

struct OutboxRow {
    std::int64_t id = 0;
    std::string tx_id;
    std::string type;
    std::string tx_json;  // canonical signed tx
    std::string status;
    std::string reason;
    std::int64_t attempts = 0;
};

struct DeviceRow {
    std::string device_id;
    std::string product;
    std::string hardware;
    std::string key;  // public hex
    std::string tx_id;
};

class Catalog {
  public:
    // Opens (creating) and migrates the catalog.
    static Expected<Catalog> Open(const std::string& path);

    // Runs fn in one BEGIN IMMEDIATE transaction (everything a publish records commits at once).
    Status Write(const std::function<Status()>& fn) { return db_.WriteTransaction(fn); }

    // --- releases
    Expected<std::optional<ReleaseRow>> LatestRelease(const std::string& product);
    Expected<bool> TagPublished(const std::string& product, const std::string& tag);
    // Sequences > since, ascending, at most limit.
    Expected<std::vector<ReleaseRow>> Releases(const std::string& product, std::uint64_t since,
                                               std::size_t limit = 1000);
    // product -> highest sequence: the `latest` map of the timestamp.
    Expected<std::map<std::string, std::uint64_t>> LatestSequences();
    Status InsertRelease(const ReleaseRow& r);

    // Products with at least one release, by name.
    Expected<std::vector<ProductRow>> Products();

    // --- torrents (one per stored image)
    Status InsertTorrent(const std::string& image_sha256, const std::string& infohash_v1,
                         const std::string& infohash_v2);
    Expected<std::optional<TorrentRow>> Torrent(const std::string& image_sha256);
    // A tracker announce names a v1 infohash or a v2 infohash truncated to 20 bytes (40 hex).
    Expected<std::optional<TorrentRow>> TorrentByAnnounceHash(const std::string& hex40);

    // --- admissions
    Expected<std::optional<DeviceRow>> Device(const std::string& device_id);
    Status InsertDevice(const DeviceRow& d);
    Expected<bool> GatewayExists(const std::string& name);
    Status InsertGateway(const std::string& name, const std::string& key, const std::string& tx_id);

    Expected<std::optional<std::string>> GatewayKey(const std::string& name);
    Expected<bool> Revoked(const std::string& subject, const std::string& role);
    Status InsertRevocation(const std::string& subject, const std::string& role,
                            const std::string& key, const std::string& tx_id);

    // --- outbox
    Status InsertOutbox(const Tx& tx);
    // Pending rows in creation order (the ledger needs an admit before the device's reports).
    Expected<std::vector<OutboxRow>> PendingOutbox(std::size_t limit = 100);
    Expected<std::optional<OutboxRow>> OutboxEntry(const std::string& tx_id);
    Status MarkOutbox(const std::string& tx_id, const std::string& status,
                      const std::string& reason);
    // Records a failed attempt (network error) without changing the status.
    Status CountAttempt(const std::string& tx_id, const std::string& reason);

  private:
    explicit Catalog(sql::Db db) : db_(std::move(db)) {}
    sql::Db db_;
};

}  // namespace fwchain::vendor
