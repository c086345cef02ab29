#include "vendor-server/metadata_store.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>

#include "common/core/fs.hpp"

namespace fwchain::vendor {
namespace fs = std::filesystem;

Expected<std::vector<std::uint64_t>> RootVersions(const DataDir& dir) {
    std::error_code ec;
    fs::directory_iterator it(dir.RootsDir(), ec);
    if (ec) {
        return Fail(Errc::kIo, "io", "cannot list " + dir.RootsDir() + ": " + ec.message());
    }
    std::vector<std::uint64_t> versions;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const std::string name = it->path().filename().string();
        if (name.size() < 6 || name.substr(name.size() - 5) != ".json") continue;
        std::uint64_t v = 0;
        const char* first = name.data();
        const char* last = name.data() + name.size() - 5;
        auto [ptr, err] = std::from_chars(first, last, v);
        // Only canonical "N.json" names; temp files of an atomic write are skipped.
        if (err != std::errc() || ptr != last || v == 0 || name[0] == '0') continue;
        versions.push_back(v);
    }
    if (ec) return Fail(Errc::kIo, "io", "cannot list " + dir.RootsDir() + ": " + ec.message());
    std::sort(versions.begin(), versions.end());
    return versions;
}

Expected<Envelope> LoadRootEnvelope(const DataDir& dir, std::uint64_t version) {
    FW_ASSIGN(auto text, ReadFile(dir.RootFile(version)));
    auto env = ParseEnvelope(std::string_view(text));
    if (!env) return Fail(Context(env.error(), "root " + std::to_string(version)));
    return env;
}

Expected<Root> LatestRoot(const DataDir& dir) {
    FW_ASSIGN(auto versions, RootVersions(dir));
    if (versions.empty()) {
        return Fail(Errc::kNotFound, "no-root", "no root metadata in " + dir.RootsDir());
    }
    FW_ASSIGN(auto env, LoadRootEnvelope(dir, versions.back()));
    return ParseRoot(env);
}

Expected<std::optional<Timestamp>> LoadTimestamp(const DataDir& dir) {
    if (!FileExists(dir.TimestampFile())) return std::optional<Timestamp>{};
    FW_ASSIGN(auto text, ReadFile(dir.TimestampFile()));
    FW_ASSIGN(auto env, ParseEnvelope(std::string_view(text)));
    FW_ASSIGN(auto ts, ParseTimestamp(env));
    return std::optional<Timestamp>(std::move(ts));
}

Expected<TimestampContent> TimestampContentNow(Catalog& catalog,
                                               const std::optional<Timestamp>& previous,
                                               const LedgerFacts* facts) {
    TimestampContent c;
    FW_ASSIGN(c.latest, catalog.LatestSequences());
    for (const auto& [product, latest] : c.latest) {
        const std::uint64_t since = latest > kTimestampManifests ? latest - kTimestampManifests : 0;
        FW_ASSIGN(auto rows, catalog.Releases(product, since, kTimestampManifests));
        for (const auto& row : rows) {
            ManifestEntry e{row.manifest_sha256, std::nullopt};
            if (previous) {
                if (const ManifestEntry* old = previous->Manifest(product, row.sequence);
                    old != nullptr && old->sha256 == e.sha256) {
                    e.block = old->block;
                }
            }
            if (facts != nullptr) {
                auto found = facts->release_blocks.find(e.sha256);
                if (found != facts->release_blocks.end()) e.block = found->second;
            }
            c.manifests[product][row.sequence] = std::move(e);
        }
    }
    if (previous) c.checkpoint = previous->checkpoint;
    if (facts != nullptr && facts->checkpoint &&
        (!c.checkpoint || facts->checkpoint->height > c.checkpoint->height)) {
        c.checkpoint = facts->checkpoint;
    }
    return c;
}

Expected<Timestamp> WriteTimestamp(const DataDir& dir, Catalog& catalog,
                                   const SigningKey& timestamp_key, std::int64_t now,
                                   std::int64_t lifetime, const LedgerFacts* facts) {
    FW_ASSIGN(auto previous, LoadTimestamp(dir));
    FW_ASSIGN(auto root, LatestRoot(dir));
    FW_ASSIGN(auto content, TimestampContentNow(catalog, previous, facts));
    std::uint64_t version = 1;
    std::int64_t issued = now;
    if (previous) {
        version = previous->version + 1;
        issued = std::max(now, previous->issued);
    }
    Envelope env =
        SignDocument(MakeTimestampSigned(version, issued, issued + lifetime, content.latest,
                                         content.manifests, content.checkpoint, root.version),
                     {&timestamp_key});
    FW_TRY(WriteFileAtomic(dir.TimestampFile(), env.Serialize()));
    return ParseTimestamp(env);
}

bool TimestampNeedsRefresh(const Timestamp& ts, const TimestampContent& want,
                           std::uint64_t root_version, std::int64_t now) {
    const std::int64_t half = ts.issued + (ts.expires - ts.issued) / 2;
    const TimestampContent has{ts.latest, ts.manifests, ts.checkpoint};
    return now >= half || has != want || ts.root_version != root_version;
}

namespace {

Expected<bool> Refresh(const DataDir& dir, Catalog& catalog, const SigningKey* timestamp_key,
                       std::int64_t now, std::int64_t lifetime, const LedgerFacts* facts) {
    // Cheap check first, so an idle server does not take the write lock every tick.
    auto needs = [&]() -> Expected<bool> {
        FW_ASSIGN(auto ts, LoadTimestamp(dir));
        if (!ts) return true;
        FW_ASSIGN(auto want, TimestampContentNow(catalog, ts, facts));
        FW_ASSIGN(auto root, LatestRoot(dir));
        return TimestampNeedsRefresh(*ts, want, root.version, now);
    };
    FW_ASSIGN(bool first, needs());
    if (!first) return false;
    bool written = false;
    FW_TRY(catalog.Write([&]() -> Status {
        FW_ASSIGN(bool still, needs());
        if (!still) return {};
        if (timestamp_key != nullptr) {
            FW_TRY(WriteTimestamp(dir, catalog, *timestamp_key, now, lifetime, facts));
        } else {
            FW_ASSIGN(auto key, SigningKey::Load(dir.Key(kTimestampRole)));
            FW_TRY(WriteTimestamp(dir, catalog, key, now, lifetime, facts));
        }
        written = true;
        return {};
    }));
    return written;
}

}  // namespace

Expected<bool> RefreshTimestamp(const DataDir& dir, Catalog& catalog,
                                const SigningKey& timestamp_key, std::int64_t now,
                                std::int64_t lifetime) {
    return Refresh(dir, catalog, &timestamp_key, now, lifetime, nullptr);
}

Expected<bool> RefreshTimestamp(const DataDir& dir, Catalog& catalog, std::int64_t now,
                                std::int64_t lifetime, const LedgerFacts* facts) {
    return Refresh(dir, catalog, nullptr, now, lifetime, facts);
}

}  // namespace fwchain::vendor
