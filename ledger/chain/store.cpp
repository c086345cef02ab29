#include "ledger/chain/store.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <variant>

#include "common/core/tx_bodies.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::ledger {

namespace {

// Forward-only: a released schema is never edited, only followed by a new entry.
const std::vector<std::string>& Migrations() {
    static const std::vector<std::string> kMigrations = {
        R"sql(
CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE blocks(
  hash TEXT PRIMARY KEY,
  height INTEGER NOT NULL,
  prev TEXT NOT NULL,
  header BLOB NOT NULL,
  time INTEGER NOT NULL,
  bits INTEGER NOT NULL,
  work TEXT NOT NULL,
  json TEXT NOT NULL,
  main INTEGER NOT NULL DEFAULT 1);
CREATE UNIQUE INDEX blocks_main_height ON blocks(height) WHERE main = 1;
CREATE INDEX blocks_prev ON blocks(prev);
CREATE TABLE txs(
  id TEXT PRIMARY KEY,
  block_hash TEXT NOT NULL REFERENCES blocks(hash),
  height INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  type TEXT NOT NULL,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  product TEXT NOT NULL,
  ver TEXT NOT NULL,
  verifier TEXT NOT NULL,
  state TEXT NOT NULL,
  time INTEGER NOT NULL,
  nonce INTEGER NOT NULL,
  json TEXT NOT NULL);
CREATE INDEX txs_pos ON txs(height, idx);
CREATE INDEX txs_block ON txs(block_hash, idx);
CREATE INDEX txs_recipient ON txs(recipient, height, idx);
CREATE INDEX txs_sender ON txs(sender, height, idx);
CREATE INDEX txs_ver ON txs(ver, height, idx);
CREATE INDEX txs_verifier ON txs(verifier);
CREATE INDEX txs_type ON txs(type, height, idx);
CREATE INDEX txs_time ON txs(time);
CREATE INDEX txs_product ON txs(product, height, idx);
CREATE TABLE keys(
  key TEXT PRIMARY KEY,
  id TEXT NOT NULL,
  subject TEXT NOT NULL,
  role TEXT NOT NULL,
  product TEXT NOT NULL,
  height INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  revoked_height INTEGER NOT NULL DEFAULT 0,
  last_nonce INTEGER);
CREATE INDEX keys_role ON keys(role, height);
)sql",
        // Fork choice and reorgs: side blocks carry main = 0; `undo` keeps the registry rows a
        // block changed (NULL = the key was new) so disconnecting it restores them; `roots`
        // records root rotations by block so a disconnect drops them.
        R"sql(
ALTER TABLE blocks ADD COLUMN invalid INTEGER NOT NULL DEFAULT 0;
CREATE INDEX blocks_work ON blocks(work);
CREATE TABLE undo(
  block_hash TEXT NOT NULL,
  key TEXT NOT NULL,
  prev TEXT,
  PRIMARY KEY(block_hash, key));
CREATE TABLE roots(
  version INTEGER PRIMARY KEY,
  block_hash TEXT NOT NULL,
  height INTEGER NOT NULL,
  json TEXT NOT NULL);
)sql",
        // GET /v1/status: a covering index of update reports by product and state, in device
        // order, so "latest installed per device" is one ordered index scan without a sort.
        R"sql(
CREATE INDEX txs_fleet ON txs(product, state, recipient, height, idx, ver, time)
  WHERE type = 'update';
)sql",
        // Every index costs each tx insert (block validation, DESIGN.md §8). No query filters
        // on sender or verifier, and only main-chain txs have rows, so a block's txs are found
        // by height (txs_pos) instead of by its 64-char hash.
        R"sql(
DROP INDEX txs_sender;
DROP INDEX txs_verifier;
DROP INDEX txs_block;
)sql",
        // One release per (product, sequence) and one approval per (release, approver): the
        // claim a tx makes (consensus UniqueClaim), dropped with its block on a disconnect.
        // Chains stored before the rule keep the first tx of each claim.
        R"sql(
CREATE TABLE claims(
  claim TEXT PRIMARY KEY,
  tx_id TEXT NOT NULL,
  height INTEGER NOT NULL);
CREATE INDEX claims_height ON claims(height);
INSERT OR IGNORE INTO claims(claim, tx_id, height)
  SELECT 'release/' || recipient || '/' || json_extract(json, '$.body.sequence'), id, height
  FROM txs WHERE type = 'release' ORDER BY height, idx;
INSERT OR IGNORE INTO claims(claim, tx_id, height)
  SELECT 'approve/' || recipient || '/' || sender, id, height
  FROM txs WHERE type = 'approve' ORDER BY height, idx;
)sql",
        // Device ledger proofs carry each header with its miner's signature
        // (GET /v1/headers), read without parsing the block json.
        R"sql(
ALTER TABLE blocks ADD COLUMN miner_sig TEXT NOT NULL DEFAULT '';
UPDATE blocks SET miner_sig = json_extract(json, '$.miner_sig');
)sql",
        // Pruned storage (docs/architecture.md "Pruned nodes"). `outcomes`: a compact copy of
        // each device outcome report (update txs installed/failed/rolled-back; state 0/1/2) of
        // the pruned heights, so rollout halts are decided from the same evidence as on an
        // archival node. `tx_proofs`: the Merkle path of each tx a pruned block still holds.
        // `kept_devices`: the devices whose txs a pruned node keeps (its own).
        R"sql(
CREATE TABLE outcomes(
  product TEXT NOT NULL,
  height INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  device TEXT NOT NULL,
  state INTEGER NOT NULL,
  sequence INTEGER,
  previous_sequence INTEGER,
  rejected INTEGER NOT NULL,
  PRIMARY KEY(product, height, idx)) WITHOUT ROWID;
CREATE TABLE tx_proofs(id TEXT PRIMARY KEY, proof TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE kept_devices(device TEXT PRIMARY KEY) WITHOUT ROWID;
)sql",
    };
    return kMigrations;
}

// SQLite integers are signed 64-bit; u64 values are stored bit for bit.
std::int64_t U2I(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t I2U(std::int64_t v) { return static_cast<std::uint64_t>(v); }

// The product a tx is indexed under: a release's recipient, an admission's product, and the
// product a device report names (status heartbeats share the update body).
std::string ProductOf(const Tx& tx) {
    if (tx.type == txtype::kRelease) return tx.recipient;
    if (tx.type == txtype::kAdmit) {
        auto body = AdmitTxBody::Parse(tx.body);
        return body ? body->product : "";
    }
    if (tx.type == txtype::kUpdate || tx.type == txtype::kStatus) {
        auto body = UpdateTxBody::Parse(tx.body);
        return body ? body->product : "";
    }
    return "";
}

constexpr const char* kBlockCols =
    "hash, height, prev, header, time, bits, work, main, invalid, miner_sig";

Expected<BlockInfo> ReadBlockInfo(const sql::Stmt& s) {
    BlockInfo b;
    auto hash = Hash256FromHex(s.Text(0));
    auto prev = Hash256FromHex(s.Text(2));
    auto work = WorkFromHex(s.Text(6));
    const std::string header = s.Blob(3);
    if (!hash || !prev || !work || header.size() != kHeaderSize) {
        return Fail(Errc::kDatabase, "corrupt-block", "stored block row is malformed");
    }
    b.hash = *hash;
    b.height = I2U(s.Int(1));
    b.prev = *prev;
    std::memcpy(b.header.data(), header.data(), kHeaderSize);
    b.time = s.Int(4);
    b.bits = static_cast<std::uint32_t>(s.Int(5));
    b.work = *work;
    b.main = s.Int(7) != 0;
    b.invalid = s.Int(8) != 0;
    b.miner_sig = s.Text(9);
    return b;
}

Expected<std::optional<BlockInfo>> OneBlock(sql::Stmt& s) {
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<BlockInfo>();
    FW_ASSIGN(BlockInfo b, ReadBlockInfo(s));
    return std::optional<BlockInfo>(std::move(b));
}

Expected<TxRecord> ReadTxRecord(const sql::Stmt& s) {
    // columns: id, block_hash, height, idx, json
    TxRecord r;
    r.id = s.Text(0);
    r.block_hash = s.Text(1);
    r.height = I2U(s.Int(2));
    r.index = static_cast<std::uint32_t>(s.Int(3));
    auto j = ParseJson(s.Text(4));
    if (!j) return Fail(Errc::kDatabase, "corrupt-tx", "stored tx json is malformed: " + r.id);
    r.tx = std::move(*j);
    return r;
}

KeyRecord ReadKey(const sql::Stmt& s) {
    // columns: key, subject, role, product, height, revoked, revoked_height, last_nonce
    KeyRecord k;
    k.key = s.Text(0);
    k.subject = s.Text(1);
    k.role = s.Text(2);
    k.product = s.Text(3);
    k.height = I2U(s.Int(4));
    k.revoked = s.Int(5) != 0;
    k.revoked_height = I2U(s.Int(6));
    if (!s.IsNull(7)) k.last_nonce = I2U(s.Int(7));
    return k;
}

constexpr const char* kKeyCols =
    "key, subject, role, product, height, revoked, revoked_height, last_nonce";

Json KeyToJson(const KeyRecord& k) {
    Json j{{"key", k.key},
           {"subject", k.subject},
           {"role", k.role},
           {"product", k.product},
           {"height", k.height},
           {"revoked", k.revoked},
           {"revoked_height", k.revoked_height}};
    j["last_nonce"] = k.last_nonce ? Json(*k.last_nonce) : Json(nullptr);
    return j;
}

std::optional<KeyRecord> KeyFromJson(const Json& j) {
    try {
        KeyRecord k;
        k.key = j.at("key").get<std::string>();
        k.subject = j.at("subject").get<std::string>();
        k.role = j.at("role").get<std::string>();
        k.product = j.at("product").get<std::string>();
        k.height = j.at("height").get<std::uint64_t>();
        k.revoked = j.at("revoked").get<bool>();
        k.revoked_height = j.at("revoked_height").get<std::uint64_t>();
        if (!j.at("last_nonce").is_null()) k.last_nonce = j.at("last_nonce").get<std::uint64_t>();
        return k;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string EncodeCursor(std::uint64_t height, std::uint32_t idx) {
    return std::to_string(height) + "-" + std::to_string(idx);
}

bool DecodeCursor(const std::string& c, std::uint64_t* height, std::uint32_t* idx) {
    const auto dash = c.find('-');
    if (dash == std::string::npos) return false;
    const char* b = c.data();
    auto r1 = std::from_chars(b, b + dash, *height);
    auto r2 = std::from_chars(b + dash + 1, b + c.size(), *idx);
    return r1.ec == std::errc() && r1.ptr == b + dash && r2.ec == std::errc() &&
           r2.ptr == b + c.size() && dash > 0;
}

Error PrunedBlock(const std::string& which) {
    return MakeError(Errc::kNotFound, "pruned",
                     "block " + which +
                         " is pruned on this node (it keeps headers and recent "
                         "bodies only); ask an archival node");
}

}  // namespace

Expected<std::unique_ptr<ChainStore>> ChainStore::Open(const std::string& path, bool prunable) {
    FW_ASSIGN(sql::Db db, sql::Db::Open(path));
    if (prunable) {
        // Freed pages go back to the file system only with auto_vacuum, which a file gets when it
        // is created or by a VACUUM (Db::Open's WAL switch already wrote a new file's header).
        std::int64_t mode = 0;
        {
            FW_ASSIGN(sql::Stmt q, db.Prepare("PRAGMA auto_vacuum"));
            FW_ASSIGN(bool row, q.Step());
            if (row) mode = q.Int(0);
        }  // finalised: VACUUM needs no statement in progress
        if (mode != 2) {
            spdlog::info("{}: switching to incremental vacuum (a one-time VACUUM)", path);
            FW_TRY(db.Exec("PRAGMA auto_vacuum=INCREMENTAL"));
            FW_TRY(db.Exec("VACUUM"));
        }
        // The WAL is truncated back to this size after a checkpoint (it counts in the budget).
        FW_TRY(db.Exec("PRAGMA journal_size_limit=4194304"));
    }
    auto migrated = db.Migrate(Migrations());
    if (!migrated) return Fail(Context(migrated.error(), "migrating " + path));
    if (prunable) FW_TRY(db.Exec("INSERT OR IGNORE INTO meta(k, v) VALUES('pruned', '1')"));
    return std::unique_ptr<ChainStore>(new ChainStore(std::move(db), path));
}

Expected<std::unique_ptr<ChainStore>> ChainStore::OpenReader(const std::string& path) {
    FW_ASSIGN(sql::Db db, sql::Db::Open(path));
    FW_TRY(db.Exec("PRAGMA query_only=1"));
    return std::unique_ptr<ChainStore>(new ChainStore(std::move(db), path));
}

Status ChainStore::ReadTransaction(const std::function<Status()>& fn) {
    FW_TRY(db_.Exec("BEGIN"));
    Status st = fn();
    // Ending a read transaction cannot lose anything; its error only matters when fn succeeded.
    Status end = db_.Exec(st ? "COMMIT" : "ROLLBACK");
    if (!st) return st;
    return end;
}

Expected<PruneInfo> ChainStore::Pruning() {
    PruneInfo info;
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT k, v FROM meta WHERE k IN ('pruned', "
                                      "'prune_height')"));
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        if (s.Text(0) == "pruned") info.pruned = s.Text(1) == "1";
        if (s.Text(0) == "prune_height") {
            const std::string v = s.Text(1);
            std::from_chars(v.data(), v.data() + v.size(), info.prune_height);
        }
    }
    return info;
}

Status ChainStore::PruneThrough(std::uint64_t to) {
    return db_.WriteTransaction([&]() -> Status {
        FW_ASSIGN(PruneInfo info, Pruning());
        const std::uint64_t from = info.prune_height + 1;  // the genesis body is always kept
        if (to < from) return {};
        const std::string kept = std::string("(type IN ") + kKeptTxTypesSql +
                                 " OR recipient IN (SELECT device FROM kept_devices))";
        // The Merkle path of every kept tx, while its block's tx ids are still all here.
        {
            FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT height, id, " + kept +
                                              " FROM txs WHERE height >= ? AND height <= ? "
                                              "ORDER BY height, idx"));
            s.Bind(1, U2I(from)).Bind(2, U2I(to));
            FW_ASSIGN(sql::Stmt put, db_.Cached("INSERT OR REPLACE INTO tx_proofs(id, proof) "
                                                "VALUES(?, ?)"));
            std::uint64_t height = 0;
            std::vector<std::string> ids;
            std::vector<std::size_t> keep;
            auto flush = [&]() -> Status {
                if (keep.empty()) return {};
                FW_ASSIGN(auto hashes, TxIdsToHashes(ids));
                for (std::size_t i : keep) {
                    put.Reset();
                    put.Bind(1, ids[i]).Bind(
                        2, Canonical(MerkleProofToJson(MakeMerkleProof(hashes, i))));
                    FW_TRY(put.Run());
                }
                return {};
            };
            while (true) {
                FW_ASSIGN(bool row, s.Step());
                if (!row) break;
                const std::uint64_t h = I2U(s.Int(0));
                if (h != height) {
                    FW_TRY(flush());
                    height = h;
                    ids.clear();
                    keep.clear();
                }
                if (s.Int(2) != 0) keep.push_back(ids.size());
                ids.push_back(s.Text(1));
            }
            FW_TRY(flush());
        }
        for (const std::string& sql : {
                 // Rollout evidence, as ForEachOutcome reads it from the txs.
                 std::string("INSERT OR REPLACE INTO outcomes(product, height, idx, device, state, "
                             "sequence, previous_sequence, rejected) SELECT product, height, idx, "
                             "recipient, CASE state WHEN 'installed' THEN 0 WHEN 'failed' THEN 1 "
                             "ELSE 2 END, json_extract(json, '$.body.sequence'), "
                             "json_extract(json, '$.body.previous_sequence'), "
                             "json_extract(json, '$.body.rejected') IS NOT NULL FROM txs "
                             "WHERE type = 'update' AND state IN ('installed', 'failed', "
                             "'rolled-back') AND height >= ?1 AND height <= ?2"),
                 "DELETE FROM txs WHERE height >= ?1 AND height <= ?2 AND NOT " + kept,
                 std::string("DELETE FROM undo WHERE block_hash IN (SELECT hash FROM blocks "
                             "WHERE height >= ?1 AND height <= ?2)"),
                 std::string("UPDATE blocks SET json = '' WHERE height >= ?1 AND height <= ?2"),
             }) {
            FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
            s.Bind(1, U2I(from)).Bind(2, U2I(to));
            FW_TRY(s.Run());
        }
        FW_ASSIGN(sql::Stmt m, db_.Cached("INSERT INTO meta(k, v) VALUES('prune_height', ?) "
                                          "ON CONFLICT(k) DO UPDATE SET v = excluded.v"));
        m.Bind(1, std::to_string(to));
        return m.Run();
    });
}

Status ChainStore::Shrink() {
    FW_TRY(db_.Exec("PRAGMA incremental_vacuum"));
    // Readers may hold the WAL: then it is truncated at a later call.
    return db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

Status ChainStore::Compact() {
    FW_TRY(db_.Exec("VACUUM"));
    return db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

std::uint64_t ChainStore::FileBytes() const {
    std::uint64_t total = 0;
    for (const std::string& f : {path_, path_ + "-wal"}) {
        std::error_code ec;
        const auto n = std::filesystem::file_size(f, ec);
        if (!ec) total += n;
    }
    return total;
}

Expected<std::uint64_t> ChainStore::LiveBytes() {
    std::int64_t pages[3] = {0, 0, 0};
    const char* pragmas[3] = {"PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size"};
    for (int i = 0; i < 3; ++i) {
        FW_ASSIGN(sql::Stmt s, db_.Cached(pragmas[i]));
        FW_ASSIGN(bool row, s.Step());
        if (row) pages[i] = s.Int(0);
    }
    return I2U((pages[0] - pages[1]) * pages[2]);
}

Status ChainStore::KeepDevices(const std::vector<std::string>& device_ids) {
    if (device_ids.empty()) return {};
    return db_.WriteTransaction([&]() -> Status {
        FW_ASSIGN(sql::Stmt s, db_.Cached("INSERT OR IGNORE INTO kept_devices(device) VALUES(?)"));
        for (const auto& id : device_ids) {
            s.Reset();
            s.Bind(1, id);
            FW_TRY(s.Run());
        }
        return {};
    });
}

Expected<std::uint64_t> ChainStore::KeptDeviceCount() {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT COUNT(*) FROM kept_devices"));
    FW_ASSIGN(bool row, s.Step());
    return row ? I2U(s.Int(0)) : 0;
}

Expected<std::optional<Json>> ChainStore::StoredProof(const std::string& tx_id) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT proof FROM tx_proofs WHERE id = ?"));
    s.Bind(1, tx_id);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<Json>();
    FW_ASSIGN(Json j, ParseJson(s.Text(0)));
    return std::optional<Json>(std::move(j));
}

Expected<std::optional<std::string>> ChainStore::GenesisHash() {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT v FROM meta WHERE k = 'genesis'"));
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(s.Text(0));
}

Status ChainStore::WriteBlock(const EncodedBlock& encoded, const StateOverlay& added, Work work,
                              bool insert_row) {
    const Block& block = encoded.block();
    const std::string hash = ToHex(block.Hash());
    if (!insert_row) {
        FW_ASSIGN(sql::Stmt s, db_.Cached("UPDATE blocks SET main = 1 WHERE hash = ?"));
        s.Bind(1, hash);
        FW_TRY(s.Run());
    } else {
        FW_TRY(InsertBlockRow(encoded, work, true));
    }
    {
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("INSERT INTO txs(id, block_hash, height, idx, type, sender, "
                             "recipient, product, ver, verifier, state, time, nonce, json) "
                             "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
        for (std::size_t i = 0; i < block.txs.size(); ++i) {
            const Tx& tx = block.txs[i];
            s.Reset();
            s.Bind(1, encoded.tx_ids()[i])
                .Bind(2, hash)
                .Bind(3, U2I(block.header.height))
                .Bind(4, static_cast<std::int64_t>(i))
                .Bind(5, tx.type)
                .Bind(6, tx.sender)
                .Bind(7, tx.recipient)
                .Bind(8, ProductOf(tx))
                .Bind(9, tx.ver)
                .Bind(10, tx.verifier)
                .Bind(11, tx.state)
                .Bind(12, tx.time)
                .Bind(13, U2I(tx.nonce))
                .Bind(14, encoded.tx_texts()[i]);
            FW_TRY(s.Run());
        }
    }
    {
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("INSERT INTO keys(key, id, subject, role, product, height, revoked, "
                             "revoked_height, last_nonce) VALUES(?,?,?,?,?,?,?,?,?) "
                             "ON CONFLICT(key) DO UPDATE SET revoked = excluded.revoked, "
                             "revoked_height = excluded.revoked_height, "
                             "last_nonce = excluded.last_nonce"));
        FW_ASSIGN(sql::Stmt undo, db_.Cached("INSERT OR REPLACE INTO undo(block_hash, key, prev) "
                                             "VALUES(?,?,?)"));
        for (const auto& [key, rec] : added.ChangedKeys()) {
            std::optional<KeyRecord> before;
            if (const auto* seen = added.BaseKey(key)) {
                before = *seen;
            } else {
                FW_ASSIGN(before, FindKey(key));
            }
            undo.Reset();
            undo.Bind(1, hash).Bind(2, key);
            if (before) {
                undo.Bind(3, Canonical(KeyToJson(*before)));
            } else {
                undo.BindNull(3);
            }
            FW_TRY(undo.Run());
            // The id column is only written for a new key (the upsert keeps it otherwise).
            auto pub = before ? std::nullopt : PublicKeyFromHex(key);
            s.Reset();
            s.Bind(1, key)
                .Bind(2, pub ? KeyId(*pub) : std::string())
                .Bind(3, rec.subject)
                .Bind(4, rec.role)
                .Bind(5, rec.product)
                .Bind(6, U2I(rec.height))
                .Bind(7, static_cast<std::int64_t>(rec.revoked ? 1 : 0))
                .Bind(8, U2I(rec.revoked_height));
            if (rec.last_nonce) {
                s.Bind(9, U2I(*rec.last_nonce));
            } else {
                s.BindNull(9);
            }
            FW_TRY(s.Run());
        }
    }
    if (!added.AddedClaims().empty()) {
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("INSERT INTO claims(claim, tx_id, height) VALUES(?,?,?)"));
        for (const auto& [claim, tx_id] : added.AddedClaims()) {
            s.Reset();
            s.Bind(1, claim).Bind(2, tx_id).Bind(3, U2I(block.header.height));
            FW_TRY(s.Run());
        }
    }
    if (!added.AddedRoots().empty()) {
        FW_ASSIGN(sql::Stmt s, db_.Cached("INSERT OR REPLACE INTO roots(version, block_hash, "
                                          "height, json) VALUES(?,?,?,?)"));
        for (const Root& r : added.AddedRoots()) {
            s.Reset();
            s.Bind(1, U2I(r.version))
                .Bind(2, hash)
                .Bind(3, U2I(block.header.height))
                .Bind(4, Canonical(r.envelope.ToJson()));
            FW_TRY(s.Run());
        }
    }
    FW_ASSIGN(sql::Stmt tip, db_.Cached("INSERT INTO meta(k, v) VALUES('tip', ?) "
                                        "ON CONFLICT(k) DO UPDATE SET v = excluded.v"));
    tip.Bind(1, hash);
    return tip.Run();
}

Status ChainStore::StoreGenesis(const EncodedBlock& genesis, const StateOverlay& added) {
    return db_.WriteTransaction([&]() -> Status {
        FW_TRY(WriteBlock(genesis, added, BlockWork(genesis.block().header.bits), true));
        FW_ASSIGN(sql::Stmt s, db_.Cached("INSERT INTO meta(k, v) VALUES('genesis', ?)"));
        s.Bind(1, ToHex(genesis.Hash()));
        return s.Run();
    });
}

Status ChainStore::ConnectBlock(const EncodedBlock& block, const StateOverlay& added, Work work) {
    return db_.WriteTransaction([&]() -> Status { return WriteBlock(block, added, work, true); });
}

Status ChainStore::Transaction(const std::function<Status()>& fn) {
    return db_.WriteTransaction(fn);
}

Status ChainStore::ConnectInTransaction(const EncodedBlock& block, const StateOverlay& added,
                                        Work work) {
    FW_ASSIGN(auto existing, BlockByHash(ToHex(block.Hash())));
    return WriteBlock(block, added, work, !existing.has_value());
}

Status ChainStore::StoreSideBlock(const EncodedBlock& encoded, Work work) {
    return InsertBlockRow(encoded, work, false);
}

Status ChainStore::InsertBlockRow(const EncodedBlock& encoded, Work work, bool main) {
    const Block& block = encoded.block();
    const auto header = block.header.Serialize();
    FW_ASSIGN(sql::Stmt s, db_.Cached("INSERT INTO blocks(hash, height, prev, header, time, bits, "
                                      "work, json, main, miner_sig) VALUES(?,?,?,?,?,?,?,?,?,?)"));
    s.Bind(1, ToHex(block.Hash()))
        .Bind(2, U2I(block.header.height))
        .Bind(3, ToHex(block.header.prev_hash))
        .BindBlob(4, header.data(), header.size())
        .Bind(5, block.header.timestamp)
        .Bind(6, static_cast<std::int64_t>(block.header.bits))
        .Bind(7, WorkToHex(work))
        .Bind(8, encoded.text())
        .Bind(9, static_cast<std::int64_t>(main ? 1 : 0))
        .Bind(10, ToHex(block.miner_sig));
    return s.Run();
}

Expected<Block> ChainStore::DisconnectTip() {
    FW_ASSIGN(auto tip, Tip());
    if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
    if (tip->height == 0) return Fail(Errc::kInternal, "disconnect-genesis", "cannot undo genesis");
    const std::string hash = ToHex(tip->hash);
    FW_ASSIGN(auto json, BlockJson(hash));
    if (!json) return Fail(Errc::kDatabase, "corrupt-block", "tip block json missing");
    auto parsed = ParseJson(*json);
    if (!parsed) return Fail(Errc::kDatabase, "corrupt-block", "tip block json malformed");
    auto block = Block::FromJson(*parsed);
    if (!block) return Fail(Context(block.error(), "stored tip block " + hash));
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT key, prev FROM undo WHERE block_hash = ?"));
        s.Bind(1, hash);
        std::vector<std::pair<std::string, std::optional<std::string>>> rows;
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            rows.emplace_back(s.Text(0),
                              s.IsNull(1) ? std::nullopt : std::optional<std::string>(s.Text(1)));
        }
        for (const auto& [key, prev] : rows) {
            if (!prev) {
                FW_ASSIGN(sql::Stmt d, db_.Cached("DELETE FROM keys WHERE key = ?"));
                d.Bind(1, key);
                FW_TRY(d.Run());
                continue;
            }
            auto pj = ParseJson(*prev);
            auto rec = pj ? KeyFromJson(*pj) : std::nullopt;
            if (!rec) return Fail(Errc::kDatabase, "corrupt-undo", "undo row of key " + key);
            FW_ASSIGN(sql::Stmt u, db_.Cached("UPDATE keys SET revoked = ?, revoked_height = ?, "
                                              "last_nonce = ? WHERE key = ?"));
            u.Bind(1, static_cast<std::int64_t>(rec->revoked ? 1 : 0))
                .Bind(2, U2I(rec->revoked_height));
            if (rec->last_nonce) {
                u.Bind(3, U2I(*rec->last_nonce));
            } else {
                u.BindNull(3);
            }
            u.Bind(4, key);
            FW_TRY(u.Run());
        }
    }
    for (const char* sql :
         {"DELETE FROM undo WHERE block_hash = ?", "DELETE FROM roots WHERE block_hash = ?",
          "UPDATE blocks SET main = 0 WHERE hash = ?"}) {
        FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
        s.Bind(1, hash);
        FW_TRY(s.Run());
    }
    {
        // Only main-chain blocks have tx rows, so the tip's are those at its height.
        for (const char* sql :
             {"DELETE FROM txs WHERE height = ?", "DELETE FROM claims WHERE height = ?"}) {
            FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
            s.Bind(1, U2I(tip->height));
            FW_TRY(s.Run());
        }
    }
    FW_ASSIGN(sql::Stmt t, db_.Cached("UPDATE meta SET v = ? WHERE k = 'tip'"));
    t.Bind(1, ToHex(tip->prev));
    FW_TRY(t.Run());
    return std::move(*block);
}

Status ChainStore::MarkInvalid(const std::string& hash_hex) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("UPDATE blocks SET invalid = 1 WHERE hash = ?"));
    s.Bind(1, hash_hex);
    return s.Run();
}

Expected<std::optional<std::string>> ChainStore::LatestRootJson() {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT json FROM roots ORDER BY version DESC LIMIT 1"));
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(s.Text(0));
}

Expected<std::optional<std::string>> ChainStore::BlockJsonAtHeight(std::uint64_t height) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT json FROM blocks WHERE main = 1 AND height = ?"));
    s.Bind(1, U2I(height));
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    std::string text = s.Text(0);
    if (text.empty()) return Fail(PrunedBlock("at height " + std::to_string(height)));
    return std::optional<std::string>(std::move(text));
}

Expected<std::optional<BlockInfo>> ChainStore::Tip() {
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kBlockCols +
                                      " FROM blocks WHERE hash = (SELECT v FROM meta WHERE k = "
                                      "'tip')"));
    return OneBlock(s);
}

Expected<std::optional<BlockInfo>> ChainStore::BlockByHash(const std::string& hash_hex) {
    FW_ASSIGN(sql::Stmt s,
              db_.Cached(std::string("SELECT ") + kBlockCols + " FROM blocks WHERE hash = ?"));
    s.Bind(1, hash_hex);
    return OneBlock(s);
}

Expected<std::optional<BlockInfo>> ChainStore::BlockAtHeight(std::uint64_t height) {
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kBlockCols +
                                      " FROM blocks WHERE main = 1 AND height = ?"));
    s.Bind(1, U2I(height));
    return OneBlock(s);
}

Expected<std::optional<std::string>> ChainStore::BlockJson(const std::string& hash_hex) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT json FROM blocks WHERE hash = ?"));
    s.Bind(1, hash_hex);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    std::string text = s.Text(0);
    if (text.empty()) return Fail(PrunedBlock(hash_hex));
    return std::optional<std::string>(std::move(text));
}

Expected<std::vector<BlockInfo>> ChainStore::Headers(std::uint64_t from, std::size_t count) {
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kBlockCols +
                                      " FROM blocks WHERE main = 1 AND height >= ? "
                                      "ORDER BY height LIMIT ?"));
    s.Bind(1, U2I(from)).Bind(2, static_cast<std::int64_t>(count));
    std::vector<BlockInfo> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        FW_ASSIGN(BlockInfo b, ReadBlockInfo(s));
        out.push_back(b);
    }
    return out;
}

Expected<std::vector<std::int64_t>> ChainStore::TimesUpTo(std::uint64_t height, std::size_t n) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT time FROM blocks WHERE main = 1 AND height <= ? "
                                      "ORDER BY height DESC LIMIT ?"));
    s.Bind(1, U2I(height)).Bind(2, static_cast<std::int64_t>(n));
    std::vector<std::int64_t> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(s.Int(0));
    }
    return std::vector<std::int64_t>(out.rbegin(), out.rend());
}

Expected<std::optional<TxRecord>> ChainStore::FindTx(const std::string& id) {
    FW_ASSIGN(sql::Stmt s,
              db_.Cached("SELECT id, block_hash, height, idx, json FROM txs WHERE id = ?"));
    s.Bind(1, id);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<TxRecord>();
    FW_ASSIGN(TxRecord r, ReadTxRecord(s));
    return std::optional<TxRecord>(std::move(r));
}

Expected<bool> ChainStore::HasTx(const std::string& id) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT 1 FROM txs WHERE id = ?"));
    s.Bind(1, id);
    return s.Step();
}

Expected<std::optional<std::string>> ChainStore::ClaimedBy(const std::string& claim) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT tx_id FROM claims WHERE claim = ?"));
    s.Bind(1, claim);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(s.Text(0));
}

Expected<std::vector<std::string>> ChainStore::BlockTxIds(std::uint64_t height) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT id FROM txs WHERE height = ? ORDER BY idx"));
    s.Bind(1, U2I(height));
    std::vector<std::string> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(s.Text(0));
    }
    return out;
}

Expected<SearchPage> ChainStore::Search(const SearchQuery& q) {
    using Param = std::variant<std::int64_t, std::string>;
    std::string where;
    std::vector<Param> params;
    auto add = [&](const std::string& clause, Param p) {
        where += where.empty() ? " WHERE " : " AND ";
        where += clause;
        params.push_back(std::move(p));
    };
    if (!q.device.empty()) {
        add("recipient = ?", q.device);
        where += " AND type IN ('update', 'status')";
    }
    if (!q.product.empty()) add("product = ?", q.product);
    if (!q.ver.empty()) add("ver = ?", q.ver);
    if (!q.state.empty()) add("state = ?", q.state);
    if (!q.type.empty()) add("type = ?", q.type);
    if (q.since) add("time >= ?", *q.since);
    if (q.until) add("time <= ?", *q.until);
    if (!q.cursor.empty()) {
        std::uint64_t height = 0;
        std::uint32_t idx = 0;
        if (!DecodeCursor(q.cursor, &height, &idx)) {
            return Fail(Errc::kInvalid, "bad-cursor", "cursor is not from a previous page");
        }
        add("(height < ? OR (height = ? AND idx < ?))", U2I(height));
        params.push_back(U2I(height));
        params.push_back(static_cast<std::int64_t>(idx));
    }
    const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, kMaxSearchLimit);
    const std::string sql = "SELECT id, block_hash, height, idx, json FROM txs" + where +
                            " ORDER BY height DESC, idx DESC LIMIT ?";
    // One of many filter combinations: prepared per query, not cached.
    FW_ASSIGN(sql::Stmt s, db_.Prepare(sql));
    int n = 1;
    for (const auto& p : params) {
        if (std::holds_alternative<std::int64_t>(p)) {
            s.Bind(n++, std::get<std::int64_t>(p));
        } else {
            s.Bind(n++, std::get<std::string>(p));
        }
    }
    // One extra row tells whether another page exists.
    s.Bind(n, static_cast<std::int64_t>(limit + 1));
    SearchPage page;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        if (page.results.size() == limit) {
            const TxRecord& last = page.results.back();
            page.next_cursor = EncodeCursor(last.height, last.index);
            break;
        }
        FW_ASSIGN(TxRecord r, ReadTxRecord(s));
        page.results.push_back(std::move(r));
    }
    return page;
}

Expected<StatusReport> ChainStore::FleetStatus(const std::string& product, std::size_t limit,
                                               const std::string& cursor) {
    StatusReport r;
    r.product = product;
    // Per device the newest installed report: SQLite returns the bare columns of the row that
    // holds MAX() (a block holds < 4096 txs, so height * 4096 + idx orders the chain).
    const std::string latest =
        "SELECT recipient, ver, MAX(height * 4096 + idx) AS pos, height, time FROM txs "
        "WHERE type = 'update' AND product = ?1 AND state = 'installed' GROUP BY recipient";
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT ver, COUNT(*) FROM (" + latest +
                                          ") GROUP BY ver ORDER BY ver"));
        s.Bind(1, product);
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            const auto n = I2U(s.Int(1));
            r.versions[s.Text(0)] = n;
            r.devices += n;
        }
    }
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT ver, COUNT(*) FROM txs INDEXED BY txs_fleet "
                                          "WHERE type = 'update' "
                                          "AND product = ? AND state IN ('failed', "
                                          "'rolled-back') GROUP BY ver"));
        // Without INDEXED BY the planner prefers txs_ver for the GROUP BY and scans every tx.
        s.Bind(1, product);
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            r.failures[s.Text(0)] = I2U(s.Int(1));
        }
    }
    if (limit > 0) {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT recipient, ver, height, time FROM (" + latest +
                                          ") WHERE recipient > ?2 ORDER BY recipient LIMIT ?3"));
        s.Bind(1, product).Bind(2, cursor).Bind(3, static_cast<std::int64_t>(limit + 1));
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            if (r.latest.size() == limit) {
                r.next_cursor = r.latest.back().device;
                break;
            }
            r.latest.push_back(DeviceVersion{s.Text(0), s.Text(1), I2U(s.Int(2)), s.Int(3)});
        }
    }
    return r;
}

Expected<std::optional<std::uint64_t>> ChainStore::LatestReleaseHeight() {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT height FROM txs WHERE type = 'release' "
                                      "ORDER BY height DESC LIMIT 1"));
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::uint64_t>();
    return std::optional<std::uint64_t>(I2U(s.Int(0)));
}

Expected<std::vector<ChainStore::ReleaseTx>> ChainStore::ReleasesOf(const std::string& product) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT id, ver, height, time, json FROM txs "
                                      "WHERE product = ?1 AND type = 'release' "
                                      "ORDER BY height, idx"));
    s.Bind(1, product);
    std::vector<ReleaseTx> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(ReleaseTx{s.Text(0), s.Text(1), I2U(s.Int(2)), s.Int(3), s.Text(4)});
    }
    return out;
}

Expected<std::vector<ChainStore::TxTo>> ChainStore::TxsTo(const std::string& recipient,
                                                          const std::string& type) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT id, sender, state FROM txs WHERE recipient = ?1 "
                                      "AND type = ?2 ORDER BY height, idx"));
    s.Bind(1, recipient).Bind(2, type);
    std::vector<TxTo> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(TxTo{s.Text(0), s.Text(1), s.Text(2)});
    }
    return out;
}

Status ChainStore::ForEachOutcome(const std::string& product,
                                  const std::function<void(const Outcome&)>& fn) {
    FW_ASSIGN(PruneInfo pruning, Pruning());
    // Below the prune height the compact copies; above it (and for the kept txs of our own
    // devices below it, which are in both) the txs themselves.
    const std::string from_txs =
        "SELECT recipient, state, json_extract(json, '$.body.sequence'), "
        "json_extract(json, '$.body.previous_sequence'), "
        "json_extract(json, '$.body.rejected') IS NOT NULL, height, idx "
        "FROM txs INDEXED BY txs_fleet WHERE type = 'update' AND product = ?1 "
        "AND state IN ('installed', 'failed', 'rolled-back')";
    const std::string sql =
        pruning.prune_height == 0
            ? from_txs + " ORDER BY height, idx"
            : "SELECT device, CASE state WHEN 0 THEN 'installed' WHEN 1 THEN 'failed' ELSE "
              "'rolled-back' END, sequence, previous_sequence, rejected, height, idx FROM "
              "outcomes WHERE product = ?1 AND height <= ?2 UNION ALL " +
                  from_txs + " AND height > ?2 ORDER BY 6, 7";
    FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
    s.Bind(1, product);
    if (pruning.prune_height > 0) s.Bind(2, U2I(pruning.prune_height));
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        fn(Outcome{s.Text(0), s.Text(1), I2U(s.Int(2)), I2U(s.Int(3)), s.Int(4) != 0});
    }
    return {};
}

Expected<std::vector<std::string>> ChainStore::DevicesOf(const std::string& product) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT subject FROM keys WHERE role = 'device' AND "
                                      "product = ?1 AND revoked = 0"));
    s.Bind(1, product);
    std::vector<std::string> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(s.Text(0));
    }
    return out;
}

Expected<std::optional<KeyRecord>> ChainStore::FindKey(const std::string& key_hex) {
    FW_ASSIGN(sql::Stmt s,
              db_.Cached(std::string("SELECT ") + kKeyCols + " FROM keys WHERE key = ?"));
    s.Bind(1, key_hex);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<KeyRecord>();
    return std::optional<KeyRecord>(ReadKey(s));
}

Expected<std::vector<KeyRecord>> ChainStore::Registry(const std::string& role_filter) {
    std::string sql = std::string("SELECT ") + kKeyCols + " FROM keys";
    if (!role_filter.empty()) sql += " WHERE role = ?";
    sql += " ORDER BY height, key";
    FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
    if (!role_filter.empty()) s.Bind(1, role_filter);
    std::vector<KeyRecord> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(ReadKey(s));
    }
    return out;
}

Expected<std::vector<ProductSummary>> ChainStore::Products() {
    std::map<std::string, ProductSummary> by_name;
    {
        // The bare columns come from the row holding MAX() (see FleetStatus): the newest release.
        FW_ASSIGN(
            sql::Stmt s,
            db_.Cached("SELECT recipient, COUNT(*), ver, json_extract(json, '$.body.sequence'), "
                       "MAX(height * 4096 + idx) FROM txs WHERE type = 'release' "
                       "GROUP BY recipient"));
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            ProductSummary& p = by_name[s.Text(0)];
            p.releases = I2U(s.Int(1));
            p.latest_version = s.Text(2);
            p.latest_sequence = s.IsNull(3) ? 0 : I2U(s.Int(3));
        }
    }
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT product, COUNT(*) FROM keys WHERE role = ? AND "
                                          "revoked = 0 AND product != '' GROUP BY product"));
        s.Bind(1, std::string(role::kDevice));
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            by_name[s.Text(0)].devices = I2U(s.Int(1));
        }
    }
    std::vector<ProductSummary> out;
    out.reserve(by_name.size());
    for (auto& [name, p] : by_name) {
        p.product = name;
        out.push_back(std::move(p));
    }
    return out;
}

Expected<std::vector<ReleaseSummary>> ChainStore::Releases(const std::string& product,
                                                           std::size_t limit) {
    std::vector<ReleaseSummary> out;
    std::map<std::uint64_t, std::size_t> by_sequence;
    {
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("SELECT id, ver, json_extract(json, '$.body.sequence'), height, "
                             "block_hash, time FROM txs WHERE type = 'release' AND recipient = ? "
                             "ORDER BY height DESC, idx DESC LIMIT ?"));
        s.Bind(1, product).Bind(2, static_cast<std::int64_t>(limit));
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            ReleaseSummary r;
            r.id = s.Text(0);
            r.version = s.Text(1);
            r.sequence = s.IsNull(2) ? 0 : I2U(s.Int(2));
            r.height = I2U(s.Int(3));
            r.block_hash = s.Text(4);
            r.time = s.Int(5);
            by_sequence[r.sequence] = out.size();
            out.push_back(std::move(r));
        }
    }
    if (out.empty()) return out;
    // One pass over the product's update reports, counted per (release sequence, state).
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT json_extract(json, '$.body.sequence') AS seq, state, "
                                      "COUNT(DISTINCT recipient) FROM txs INDEXED BY txs_fleet "
                                      "WHERE product = ? AND type = 'update' GROUP BY seq, state"));
    s.Bind(1, product);
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        if (s.IsNull(0)) continue;
        auto it = by_sequence.find(I2U(s.Int(0)));
        if (it != by_sequence.end()) out[it->second].outcomes[s.Text(1)] = I2U(s.Int(2));
    }
    return out;
}

Expected<ActivityCounts> ChainStore::Activity(const ActivityQuery& q) {
    std::string sql =
        "SELECT (time - ?1) / ?2 AS b, state, COUNT(*) FROM txs WHERE type = 'update' "
        "AND time >= ?1 AND time < ?3";
    if (!q.product.empty()) sql += " AND product = ?4";
    sql += " GROUP BY b, state";
    FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
    const auto n = static_cast<std::int64_t>(q.buckets);
    s.Bind(1, q.since).Bind(2, q.bucket).Bind(3, q.since + n * q.bucket);
    if (!q.product.empty()) s.Bind(4, q.product);
    ActivityCounts out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        const std::int64_t b = s.Int(0);
        if (b < 0 || b >= n) continue;
        out[static_cast<std::size_t>(b)][s.Text(1)] = I2U(s.Int(2));
    }
    return out;
}

Expected<std::map<std::uint64_t, std::uint64_t>> ChainStore::TxCounts(std::uint64_t from,
                                                                      std::uint64_t to) {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT height, COUNT(*) FROM txs WHERE height >= ? AND "
                                      "height <= ? GROUP BY height"));
    s.Bind(1, U2I(from)).Bind(2, U2I(to));
    std::map<std::uint64_t, std::uint64_t> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out[I2U(s.Int(0))] = I2U(s.Int(1));
    }
    return out;
}

}  // namespace fwchain::ledger
