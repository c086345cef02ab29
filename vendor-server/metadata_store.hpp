#pragma once
// The vendor's signed metadata on disk: root envelopes (metadata/root/N.json) and the timestamp
// (metadata/timestamp.json). The timestamp is re-signed by `publish` and by `serve`; both do it
// inside a catalog write transaction, which is what serialises them across processes.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/core/metadata.hpp"
#include "vendor-server/catalog.hpp"
#include "vendor-server/data_dir.hpp"

namespace fwchain::vendor {

// Versions of the stored roots, ascending.
Expected<std::vector<std::uint64_t>> RootVersions(const DataDir& dir);
Expected<Envelope> LoadRootEnvelope(const DataDir& dir, std::uint64_t version);
// The newest root, parsed (our own files: structure only, no signature walk).
Expected<Root> LatestRoot(const DataDir& dir);

// nullopt when there is no timestamp file yet.
Expected<std::optional<Timestamp>> LoadTimestamp(const DataDir& dir);

// The recent manifests of each product the timestamp names (TUF's snapshot): the newest
// kTimestampManifests sequences. Older ones can no longer be installed by a device.
inline constexpr std::uint64_t kTimestampManifests = 8;

// What the vendor learnt from its ledger node (`serve` with --ledger): a checkpoint block and the
// blocks holding release txs, each at least the finality margin below the tip.
struct LedgerFacts {
    std::optional<LedgerPoint> checkpoint;
    std::map<std::string, LedgerPoint> release_blocks;  // manifest sha256 -> block
};

// What a timestamp names besides its dates.
struct TimestampContent {
    std::map<std::string, std::uint64_t> latest;
    ManifestMap manifests;
    std::optional<LedgerPoint> checkpoint;
    bool operator==(const TimestampContent&) const = default;
};

// From the catalog, keeping what `previous` knew of the ledger (checkpoint, release blocks) and
// adding `facts` (newer checkpoint, newly found blocks) when given.
Expected<TimestampContent> TimestampContentNow(Catalog& catalog,
                                               const std::optional<Timestamp>& previous,
                                               const LedgerFacts* facts = nullptr);

// Signs and atomically writes the next timestamp with TimestampContentNow(catalog, previous,
// facts): version = previous + 1, issued = max(now, previous issued) so clients never see time
// go backwards, expires = issued + lifetime.
Expected<Timestamp> WriteTimestamp(const DataDir& dir, Catalog& catalog,
                                   const SigningKey& timestamp_key, std::int64_t now,
                                   std::int64_t lifetime, const LedgerFacts* facts = nullptr);

// True when the timestamp is past half its lifetime, names other content than `want`, or names
// another root version.
bool TimestampNeedsRefresh(const Timestamp& ts, const TimestampContent& want,
                           std::uint64_t root_version, std::int64_t now);

// Re-signs the timestamp when TimestampNeedsRefresh says so, re-checking inside a catalog write
// transaction. Returns true when a new timestamp was written.
Expected<bool> RefreshTimestamp(const DataDir& dir, Catalog& catalog,
                                const SigningKey& timestamp_key, std::int64_t now,
                                std::int64_t lifetime);
// Same, reading keys/timestamp.key inside the write transaction: a concurrent key rotation
// (which swaps the key file inside its own transaction) can never be signed over with the
// retired key. `facts` (from `serve`'s ledger node) may move the checkpoint and name blocks.
Expected<bool> RefreshTimestamp(const DataDir& dir, Catalog& catalog, std::int64_t now,
                                std::int64_t lifetime, const LedgerFacts* facts = nullptr);

}  // namespace fwchain::vendor
