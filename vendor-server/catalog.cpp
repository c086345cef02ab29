#include "vendor-server/catalog.hpp"

#include "common/core/fs.hpp"

namespace fwchain::vendor {
namespace {

// Forward-only; append, never edit a shipped migration.
const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE releases (
    product TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    version TEXT NOT NULL,
    tag TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    repo TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    image_size INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (product, sequence),
    UNIQUE (product, tag)
);
CREATE INDEX releases_image ON releases(image_sha256);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    product TEXT NOT NULL,
    hardware TEXT NOT NULL,
    key TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE gateways (
    name TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    tx TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
CREATE INDEX outbox_status ON outbox(status, id);
)sql",
    // 2: torrents of stored images (one per image, shared by products) and revocations.
    R"sql(
CREATE TABLE torrents (
    image_sha256 TEXT PRIMARY KEY,
    infohash_v1 TEXT NOT NULL,
    infohash_v2 TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX torrents_v1 ON torrents(infohash_v1);
CREATE INDEX torrents_v2 ON torrents(substr(infohash_v2, 1, 40));
CREATE TABLE revocations (
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    key TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (subject, role)
);
)sql",
};

std::uint64_t U64(std::int64_t v) { return static_cast<std::uint64_t>(v); }
std::int64_t I64(std::uint64_t v) { return static_cast<std::int64_t>(v); }

ReleaseRow ReadRelease(const sql::Stmt& s) {
    ReleaseRow r;
    r.product = s.Text(0);
    r.sequence = U64(s.Int(1));
    r.version = s.Text(2);
    r.tag = s.Text(3);
    r.commit = s.Text(4);
    r.repo = s.Text(5);
    r.image_sha256 = s.Text(6);
    r.image_size = U64(s.Int(7));
    r.manifest_sha256 = s.Text(8);
    r.tx_id = s.Text(9);
    r.created = s.Int(10);
    return r;
}

constexpr const char* kReleaseCols =
    "product, sequence, version, tag, commit_id, repo, image_sha256, image_size, "
    "manifest_sha256, tx_id, created";

OutboxRow ReadOutbox(const sql::Stmt& s) {
    OutboxRow r;
    r.id = s.Int(0);
    r.tx_id = s.Text(1);
    r.type = s.Text(2);
    r.tx_json = s.Text(3);
    r.status = s.Text(4);
    r.reason = s.Text(5);
    r.attempts = s.Int(6);
    return r;
}

constexpr const char* kOutboxCols = "id, tx_id, type, tx, status, reason, attempts";

}  // namespace

Expected<Catalog> Catalog::Open(const std::string& path) {
    FW_ASSIGN(auto db, sql::Db::Open(path));
    FW_TRY(db.Migrate(kMigrations));
    return Catalog(std::move(db));
}

Expected<std::optional<ReleaseRow>> Catalog::LatestRelease(const std::string& product) {
    FW_ASSIGN(auto s,
              db_.Prepare(std::string("SELECT ") + kReleaseCols +
                          " FROM releases WHERE product = ? ORDER BY sequence DESC LIMIT 1"));
    s.Bind(1, product);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<ReleaseRow>{};
    return std::optional<ReleaseRow>(ReadRelease(s));
}

Expected<bool> Catalog::TagPublished(const std::string& product, const std::string& tag) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT 1 FROM releases WHERE product = ? AND tag = ?"));
    s.Bind(1, product).Bind(2, tag);
    return s.Step();
}

Expected<std::vector<ReleaseRow>> Catalog::Releases(const std::string& product, std::uint64_t since,
                                                    std::size_t limit) {
    FW_ASSIGN(auto s, db_.Prepare(std::string("SELECT ") + kReleaseCols +
                                  " FROM releases WHERE product = ? AND sequence > ?"
                                  " ORDER BY sequence ASC LIMIT ?"));
    // Sequences are stored as SQLite's signed 64-bit; clamp `since` so a huge query value
    // means "nothing newer" instead of wrapping negative.
    const std::int64_t since_i =
        since > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : I64(since);
    s.Bind(1, product).Bind(2, since_i).Bind(3, static_cast<std::int64_t>(limit));
    std::vector<ReleaseRow> out;
    for (;;) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(ReadRelease(s));
    }
    return out;
}

Expected<std::map<std::string, std::uint64_t>> Catalog::LatestSequences() {
    FW_ASSIGN(auto s, db_.Prepare("SELECT product, MAX(sequence) FROM releases GROUP BY product"));
    std::map<std::string, std::uint64_t> out;
    for (;;) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out[s.Text(0)] = U64(s.Int(1));
    }
    return out;
}

Status Catalog::InsertRelease(const ReleaseRow& r) {
    FW_ASSIGN(auto s, db_.Prepare(std::string("INSERT INTO releases (") + kReleaseCols +
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(1, r.product)
        .Bind(2, I64(r.sequence))
        .Bind(3, r.version)
        .Bind(4, r.tag)
        .Bind(5, r.commit)
        .Bind(6, r.repo)
        .Bind(7, r.image_sha256)
        .Bind(8, I64(r.image_size))
        .Bind(9, r.manifest_sha256)
        .Bind(10, r.tx_id)
        .Bind(11, r.created);
    return s.Run();
}

Expected<std::optional<DeviceRow>> Catalog::Device(const std::string& device_id) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT device_id, product, hardware, key, tx_id FROM devices "
                                  "WHERE device_id = ?"));
    s.Bind(1, device_id);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<DeviceRow>{};
    return std::optional<DeviceRow>(
        DeviceRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)});
}

Status Catalog::InsertDevice(const DeviceRow& d) {
    FW_ASSIGN(auto s, db_.Prepare("INSERT INTO devices (device_id, product, hardware, key, tx_id, "
                                  "created) VALUES (?, ?, ?, ?, ?, ?)"));
    s.Bind(1, d.device_id)
        .Bind(2, d.product)
        .Bind(3, d.hardware)
        .Bind(4, d.key)
        .Bind(5, d.tx_id)
        .Bind(6, NowSeconds());
    return s.Run();
}

Expected<bool> Catalog::GatewayExists(const std::string& name) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT 1 FROM gateways WHERE name = ?"));
    s.Bind(1, name);
    return s.Step();
}

Status Catalog::InsertGateway(const std::string& name, const std::string& key,
                              const std::string& tx_id) {
    FW_ASSIGN(auto s,
              db_.Prepare("INSERT INTO gateways (name, key, tx_id, created) VALUES (?, ?, ?, ?)"));
    s.Bind(1, name).Bind(2, key).Bind(3, tx_id).Bind(4, NowSeconds());
    return s.Run();
}

Expected<std::vector<ProductRow>> Catalog::Products() {
    FW_ASSIGN(auto s, db_.Prepare("SELECT r.product, COUNT(*), MAX(r.sequence), "
                                  "(SELECT version FROM releases x WHERE x.product = r.product "
                                  "ORDER BY sequence DESC LIMIT 1) FROM releases r "
                                  "GROUP BY r.product ORDER BY r.product"));
    std::vector<ProductRow> out;
    for (;;) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(ProductRow{s.Text(0), U64(s.Int(1)), U64(s.Int(2)), s.Text(3)});
    }
    return out;
}

Status Catalog::InsertTorrent(const std::string& image_sha256, const std::string& infohash_v1,
                              const std::string& infohash_v2) {
    FW_ASSIGN(auto s, db_.Prepare("INSERT OR IGNORE INTO torrents (image_sha256, infohash_v1, "
                                  "infohash_v2, created) VALUES (?, ?, ?, ?)"));
    s.Bind(1, image_sha256).Bind(2, infohash_v1).Bind(3, infohash_v2).Bind(4, NowSeconds());
    return s.Run();
}

Expected<std::optional<TorrentRow>> Catalog::Torrent(const std::string& image_sha256) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT image_sha256, infohash_v1, infohash_v2 FROM torrents "
                                  "WHERE image_sha256 = ?"));
    s.Bind(1, image_sha256);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<TorrentRow>{};
    return std::optional<TorrentRow>(TorrentRow{s.Text(0), s.Text(1), s.Text(2)});
}

Expected<std::optional<TorrentRow>> Catalog::TorrentByAnnounceHash(const std::string& hex40) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT image_sha256, infohash_v1, infohash_v2 FROM torrents "
                                  "WHERE infohash_v1 = ?1 OR substr(infohash_v2, 1, 40) = ?1"));
    s.Bind(1, hex40);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<TorrentRow>{};
    return std::optional<TorrentRow>(TorrentRow{s.Text(0), s.Text(1), s.Text(2)});
}

Expected<std::optional<std::string>> Catalog::GatewayKey(const std::string& name) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT key FROM gateways WHERE name = ?"));
    s.Bind(1, name);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::string>{};
    return std::optional<std::string>(s.Text(0));
}

Expected<bool> Catalog::Revoked(const std::string& subject, const std::string& role) {
    FW_ASSIGN(auto s, db_.Prepare("SELECT 1 FROM revocations WHERE subject = ? AND role = ?"));
    s.Bind(1, subject).Bind(2, role);
    return s.Step();
}

Status Catalog::InsertRevocation(const std::string& subject, const std::string& role,
                                 const std::string& key, const std::string& tx_id) {
    FW_ASSIGN(auto s, db_.Prepare("INSERT INTO revocations (subject, role, key, tx_id, created) "
                                  "VALUES (?, ?, ?, ?, ?)"));
    s.Bind(1, subject).Bind(2, role).Bind(3, key).Bind(4, tx_id).Bind(5, NowSeconds());
    return s.Run();
}

Status Catalog::InsertOutbox(const Tx& tx) {
    FW_ASSIGN(auto s, db_.Prepare("INSERT INTO outbox (tx_id, type, tx, created, updated) "
                                  "VALUES (?, ?, ?, ?, ?)"));
    const std::int64_t now = NowSeconds();
    s.Bind(1, tx.Id()).Bind(2, tx.type).Bind(3, Canonical(tx.ToJson())).Bind(4, now).Bind(5, now);
    return s.Run();
}

Expected<std::vector<OutboxRow>> Catalog::PendingOutbox(std::size_t limit) {
    FW_ASSIGN(auto s, db_.Prepare(std::string("SELECT ") + kOutboxCols +
                                  " FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?"));
    s.Bind(1, static_cast<std::int64_t>(limit));
    std::vector<OutboxRow> out;
    for (;;) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(ReadOutbox(s));
    }
    return out;
}

Expected<std::optional<OutboxRow>> Catalog::OutboxEntry(const std::string& tx_id) {
    FW_ASSIGN(auto s,
              db_.Prepare(std::string("SELECT ") + kOutboxCols + " FROM outbox WHERE tx_id = ?"));
    s.Bind(1, tx_id);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<OutboxRow>{};
    return std::optional<OutboxRow>(ReadOutbox(s));
}

Status Catalog::MarkOutbox(const std::string& tx_id, const std::string& status,
                           const std::string& reason) {
    FW_ASSIGN(auto s, db_.Prepare("UPDATE outbox SET status = ?, reason = ?, attempts = attempts "
                                  "+ 1, updated = ? WHERE tx_id = ?"));
    s.Bind(1, status).Bind(2, reason).Bind(3, NowSeconds()).Bind(4, tx_id);
    return s.Run();
}

Status Catalog::CountAttempt(const std::string& tx_id, const std::string& reason) {
    FW_ASSIGN(auto s, db_.Prepare("UPDATE outbox SET reason = ?, attempts = attempts + 1, "
                                  "updated = ? WHERE tx_id = ?"));
    s.Bind(1, reason).Bind(2, NowSeconds()).Bind(3, tx_id);
    return s.Run();
}

}  // namespace fwchain::vendor
