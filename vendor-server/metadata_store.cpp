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

Expected<Timestamp> WriteTimestamp(const DataDir& dir,
                                   const std::map<std::string, std::uint64_t>& latest,
                                   const SigningKey& timestamp_key, std::int64_t now,
                                   std::int64_t lifetime) {
    FW_ASSIGN(auto previous, LoadTimestamp(dir));
    FW_ASSIGN(auto root, LatestRoot(dir));
    std::uint64_t version = 1;
    std::int64_t issued = now;
    if (previous) {
        version = previous->version + 1;
        issued = std::max(now, previous->issued);
    }
    Json latest_json = Json::object();
    for (const auto& [product, seq] : latest) latest_json[product] = seq;
    Json doc = {{"type", "timestamp"},   {"version", version},
                {"issued", issued},      {"expires", issued + lifetime},
                {"latest", latest_json}, {"root_version", root.version}};
    Envelope env = SignDocument(std::move(doc), {&timestamp_key});
    FW_TRY(WriteFileAtomic(dir.TimestampFile(), env.Serialize()));
    return ParseTimestamp(env);
}

bool TimestampNeedsRefresh(const Timestamp& ts, const std::map<std::string, std::uint64_t>& latest,
                           std::uint64_t root_version, std::int64_t now) {
    const std::int64_t half = ts.issued + (ts.expires - ts.issued) / 2;
    return now >= half || ts.latest != latest || ts.root_version != root_version;
}

namespace {

Expected<bool> Refresh(const DataDir& dir, Catalog& catalog, const SigningKey* timestamp_key,
                       std::int64_t now, std::int64_t lifetime) {
    // Cheap check first, so an idle server does not take the write lock every tick.
    auto needs = [&]() -> Expected<bool> {
        FW_ASSIGN(auto ts, LoadTimestamp(dir));
        if (!ts) return true;
        FW_ASSIGN(auto latest, catalog.LatestSequences());
        FW_ASSIGN(auto root, LatestRoot(dir));
        return TimestampNeedsRefresh(*ts, latest, root.version, now);
    };
    FW_ASSIGN(bool first, needs());
    if (!first) return false;
    bool written = false;
    FW_TRY(catalog.Write([&]() -> Status {
        FW_ASSIGN(bool still, needs());
        if (!still) return {};
        FW_ASSIGN(auto latest, catalog.LatestSequences());
        if (timestamp_key != nullptr) {
            FW_TRY(WriteTimestamp(dir, latest, *timestamp_key, now, lifetime));
        } else {
            FW_ASSIGN(auto key, SigningKey::Load(dir.Key(kTimestampRole)));
            FW_TRY(WriteTimestamp(dir, latest, key, now, lifetime));
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
    return Refresh(dir, catalog, &timestamp_key, now, lifetime);
}

Expected<bool> RefreshTimestamp(const DataDir& dir, Catalog& catalog, std::int64_t now,
                                std::int64_t lifetime) {
    return Refresh(dir, catalog, nullptr, now, lifetime);
}

}  // namespace fwchain::vendor
