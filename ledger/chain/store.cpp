#include "ledger/chain/store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <variant>

#include "common/core/tx_bodies.hpp"
#include "ledger/chain/tx_codec.hpp"
#include "ledger/primitives/merkle.hpp"

namespace fwchain::ledger {

namespace {

void (*g_after_block_written)(std::uint64_t) = nullptr;

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
        // Compact storage (docs/architecture.md "The chain store"): each tx is stored once, as its
        // indexed columns plus a MessagePack blob (tx_codec.hpp), keyed by its position
        // pos = height * 4096 + idx (the rowid, so the chain order is the table's order and every
        // index ends in it); ids and 64-hex recipients as bytes. A main-chain block's JSON is
        // rebuilt from its header, signature, message and txs (body NULL); a side block keeps
        // its JSON in body; '' marks a pruned body. The registry changes of a block are one undo
        // record in its row (the `undo` table is read for blocks connected before this).
        // fw_* are SQL functions the store defines on its connection.
        R"sql(
CREATE TABLE txs_compact(
  pos INTEGER PRIMARY KEY,
  id BLOB NOT NULL,
  type TEXT NOT NULL,
  recipient NOT NULL,
  product TEXT NOT NULL,
  ver TEXT NOT NULL,
  state TEXT NOT NULL,
  time INTEGER NOT NULL,
  data BLOB NOT NULL,
  height INTEGER AS (pos >> 12) VIRTUAL,
  idx INTEGER AS (pos & 4095) VIRTUAL);
INSERT INTO txs_compact(pos, id, type, recipient, product, ver, state, time, data)
  SELECT height * 4096 + idx, fw_unhex(id), type, fw_key(recipient), product, ver, state, time,
         fw_tx_pack(json)
  FROM txs ORDER BY height, idx;
DROP TABLE txs;
ALTER TABLE txs_compact RENAME TO txs;
CREATE UNIQUE INDEX txs_id ON txs(id);
CREATE INDEX txs_recipient ON txs(recipient);
CREATE INDEX txs_ver ON txs(ver);
CREATE INDEX txs_type ON txs(type) WHERE type NOT IN ('update', 'status');
CREATE INDEX txs_time ON txs(time);
CREATE INDEX txs_product ON txs(product);
CREATE INDEX txs_fleet ON txs(product, state, recipient, ver, time) WHERE type = 'update';
CREATE TABLE blocks_compact(
  hash TEXT PRIMARY KEY,
  height INTEGER NOT NULL,
  prev TEXT NOT NULL,
  header BLOB NOT NULL,
  time INTEGER NOT NULL,
  bits INTEGER NOT NULL,
  work TEXT NOT NULL,
  main INTEGER NOT NULL DEFAULT 1,
  invalid INTEGER NOT NULL DEFAULT 0,
  miner_sig TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  body TEXT,
  undo BLOB);
INSERT INTO blocks_compact(hash, height, prev, header, time, bits, work, main, invalid, miner_sig,
                           message, body)
  SELECT hash, height, prev, header, time, bits, work, main, invalid, miner_sig,
         CASE WHEN json = '' THEN '' ELSE COALESCE(json_extract(json, '$.message'), '') END,
         CASE WHEN json = '' THEN '' WHEN main = 1 THEN NULL ELSE json END
  FROM blocks;
DROP TABLE blocks;
ALTER TABLE blocks_compact RENAME TO blocks;
CREATE UNIQUE INDEX blocks_main_height ON blocks(height) WHERE main = 1;
CREATE INDEX blocks_prev ON blocks(prev);
CREATE INDEX blocks_work ON blocks(work);
)sql",
        // Smaller still (docs/architecture.md "The chain store"): a device report keeps its
        // sender as the rowid of its registry row and its image hash as a row of `verifiers`
        // (one per distinct hash), nil in the blob; rows written before keep them in the blob.
        // Ids are found by an index on their first 8 bytes (the full id is compared in the row).
        R"sql(
CREATE TABLE verifiers(ref INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE);
ALTER TABLE txs ADD COLUMN sender_ref INTEGER;
ALTER TABLE txs ADD COLUMN verifier_ref INTEGER;
DROP INDEX txs_id;
CREATE INDEX txs_idp ON txs(substr(id, 1, 8));
)sql",
    };
    return kMigrations;
}

// SQLite integers are signed 64-bit; u64 values are stored bit for bit.
std::int64_t U2I(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t I2U(std::int64_t v) { return static_cast<std::uint64_t>(v); }

// A block holds at most kMaxBlockTxs txs, so a tx's position in the chain fits one integer.
static_assert(kMaxBlockTxs < 4096);
constexpr int kPosShift = 12;
std::int64_t PosOf(std::uint64_t height, std::size_t idx) {
    return U2I((height << kPosShift) | static_cast<std::uint64_t>(idx));
}
std::int64_t FirstPos(std::uint64_t height) { return PosOf(height, 0); }

// The stored form of an id-like column value: a 64-char lowercase hex string as its 32 bytes,
// anything else as text (so the two never collide: SQLite compares blobs and text as unequal).
sql::Value KeyValue(const std::string& text) {
    sql::Value v;
    if (text.size() == 64 && IsLowerHex(text)) {
        v.kind = sql::Value::Kind::kBlob;
        auto bytes = FromHex(text);
        v.bytes.assign(bytes->begin(), bytes->end());
    } else {
        v.kind = sql::Value::Kind::kText;
        v.bytes = text;
    }
    return v;
}

void BindKey(sql::Stmt& s, int n, const std::string& text) {
    const sql::Value v = KeyValue(text);
    if (v.kind == sql::Value::Kind::kBlob) {
        s.BindBlob(n, v.bytes.data(), v.bytes.size());
    } else {
        s.Bind(n, v.bytes);
    }
}

std::string KeyText(const sql::Stmt& s, int col) {
    return s.IsBlob(col) ? ToHex(s.Blob(col)) : s.Text(col);
}

sql::Value TextValue(std::string text) {
    sql::Value v;
    v.kind = sql::Value::Kind::kText;
    v.bytes = std::move(text);
    return v;
}

// The SQL functions of the store's schema and queries (the migration to compact storage and
// the queries that read tx bodies).
Status DefineStoreFunctions(sql::Db& db) {
    FW_TRY(db.DefineFunction("fw_key", 1,
                             [](const std::vector<sql::Value>& a) -> Expected<sql::Value> {
                                 if (a[0].kind != sql::Value::Kind::kText) return a[0];
                                 return KeyValue(a[0].bytes);
                             }));
    FW_TRY(db.DefineFunction("fw_key_text", 1,
                             [](const std::vector<sql::Value>& a) -> Expected<sql::Value> {
                                 if (a[0].kind != sql::Value::Kind::kBlob) return a[0];
                                 return TextValue(ToHex(a[0].bytes));
                             }));
    FW_TRY(db.DefineFunction(
        "fw_unhex", 1, [](const std::vector<sql::Value>& a) -> Expected<sql::Value> {
            auto bytes = FromHex(a[0].bytes);
            if (a[0].kind != sql::Value::Kind::kText || !bytes) {
                return Fail(Errc::kDatabase, "corrupt-tx", "stored tx id is not hex");
            }
            sql::Value v;
            v.kind = sql::Value::Kind::kBlob;
            v.bytes.assign(bytes->begin(), bytes->end());
            return v;
        }));
    FW_TRY(db.DefineFunction("fw_tx_pack", 1,
                             [](const std::vector<sql::Value>& a) -> Expected<sql::Value> {
                                 FW_ASSIGN(Json j, ParseJson(a[0].bytes));
                                 FW_ASSIGN(Tx tx, ParseTx(j, nullptr, false));
                                 sql::Value v;
                                 v.kind = sql::Value::Kind::kBlob;
                                 v.bytes = PackTxData(tx);
                                 return v;
                             }));
    return db.DefineFunction("fw_body", 1,
                             [](const std::vector<sql::Value>& a) -> Expected<sql::Value> {
                                 FW_ASSIGN(std::string body, UnpackBodyText(a[0].bytes));
                                 return TextValue(std::move(body));
                             });
}

// The condition of the partial index txs_type: a query names it to use the index.
constexpr const char* kTypeIndexed = "type NOT IN ('update', 'status')";

// Columns of a tx row as ReadTxRecord and RowTx read them (kTxColCount of them): the sender
// and image hash a row keeps by reference are read with it.
constexpr const char* kTxCols =
    "pos, id, type, recipient, ver, state, time, data, "
    "(SELECT key FROM keys WHERE keys.rowid = txs.sender_ref), "
    "(SELECT hash FROM verifiers WHERE verifiers.ref = txs.verifier_ref)";
constexpr int kTxColCount = 10;
constexpr const char* kTxBlockHash =
    "(SELECT hash FROM blocks WHERE main = 1 AND blocks.height = txs.pos >> 12)";
// A WHERE clause finding the tx whose id (32 bytes) is bound as ?1, by the id-prefix index.
constexpr const char* kTxIdIs = "substr(id, 1, 8) = substr(?1, 1, 8) AND id = ?1";

// The tx of a row selected with kTxCols from column `c`.
Expected<Tx> RowTx(const sql::Stmt& s, int c) {
    const std::string data = s.Blob(c + 7);
    std::optional<std::string> sender, verifier;
    if (!s.IsNull(c + 8)) sender = s.Text(c + 8);
    if (!s.IsNull(c + 9)) verifier = ToHex(s.Blob(c + 9));
    return UnpackTx(s.Text(c + 2), KeyText(s, c + 3), s.Text(c + 4), s.Text(c + 5), s.Int(c + 6),
                    data, std::move(sender), std::move(verifier));
}

// The canonical block JSON (EncodedBlock::text()) from its parts.
std::string BlockText(const std::string& hash_hex, const std::string& header,
                      const std::string& message, const std::string& miner_sig_hex,
                      const std::vector<std::string>& tx_texts) {
    std::size_t size = 512;
    for (const auto& t : tx_texts) size += t.size() + 1;
    std::string out;
    out.reserve(size);
    out += R"({"hash":")";
    out += hash_hex;
    out += R"(","header":")";
    out += ToHex(header);
    out += R"(","message":)";
    out += Canonical(Json(message));
    out += R"(,"miner_sig":")";
    out += miner_sig_hex;
    out += R"(","txs":[)";
    for (std::size_t i = 0; i < tx_texts.size(); ++i) {
        if (i > 0) out += ',';
        out += tx_texts[i];
    }
    out += "]}";
    return out;
}

// One block's undo record: MessagePack array of [key, null] (the key was new) or
// [key, revoked, revoked_height, last_nonce|null] (what a disconnect restores; the rest of a
// registry row never changes after admission).
std::string PackUndo(const std::vector<std::pair<std::string, std::optional<KeyRecord>>>& rows) {
    Json arr = Json::array();
    for (const auto& [key, before] : rows) {
        Json k = Json(key);
        if (key.size() == 64 && IsLowerHex(key)) {
            auto bytes = FromHex(key);
            k = Json::binary(std::vector<std::uint8_t>(bytes->begin(), bytes->end()));
        }
        if (!before) {
            arr.push_back(Json::array({std::move(k), nullptr}));
        } else {
            arr.push_back(
                Json::array({std::move(k), before->revoked, before->revoked_height,
                             before->last_nonce ? Json(*before->last_nonce) : Json(nullptr)}));
        }
    }
    std::string out;
    Json::to_msgpack(arr, out);
    return out;
}

struct UndoEntry {
    std::string key;
    bool existed = false;
    bool revoked = false;
    std::uint64_t revoked_height = 0;
    std::optional<std::uint64_t> last_nonce;
};

Expected<std::vector<UndoEntry>> UnpackUndo(const std::string& data) {
    std::vector<UndoEntry> out;
    try {
        const Json arr = Json::from_msgpack(data);
        for (const auto& e : arr) {
            UndoEntry u;
            const auto& k = e.at(0);
            if (k.is_binary()) {
                u.key = ToHex(k.get_binary().data(), k.get_binary().size());
            } else {
                u.key = k.get<std::string>();
            }
            u.existed = e.size() == 4;
            if (u.existed) {
                u.revoked = e.at(1).get<bool>();
                u.revoked_height = e.at(2).get<std::uint64_t>();
                if (!e.at(3).is_null()) u.last_nonce = e.at(3).get<std::uint64_t>();
            }
            out.push_back(std::move(u));
        }
    } catch (const std::exception& ex) {
        return Fail(Errc::kDatabase, "corrupt-undo",
                    std::string("block undo record: ") + ex.what());
    }
    return out;
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
    // columns: kTxCols, kTxBlockHash
    TxRecord r;
    const auto pos = I2U(s.Int(0));
    r.id = ToHex(s.Blob(1));
    r.block_hash = s.Text(kTxColCount);
    r.height = pos >> kPosShift;
    r.index = static_cast<std::uint32_t>(pos & ((1u << kPosShift) - 1));
    auto tx = RowTx(s, 0);
    if (!tx) return Fail(Context(tx.error(), "stored tx " + r.id));
    r.tx = tx->ToJson();
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

// The stored key of a tx id: its 32 bytes, when it is a lowercase SHA-256 hex (anything else
// was never stored).
std::optional<Hash256> TxKey(const std::string& id) {
    if (id.size() != 64 || !IsLowerHex(id)) return std::nullopt;
    auto key = Hash256FromHex(id);
    return key ? std::optional<Hash256>(*key) : std::nullopt;
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

const std::vector<std::string>& StoreMigrations() { return Migrations(); }

void ChainStore::SetAfterBlockWrittenForTest(void (*hook)(std::uint64_t height)) {
    g_after_block_written = hook;
}

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
    FW_TRY(DefineStoreFunctions(db));
    auto migrated = db.Migrate(Migrations());
    if (!migrated) return Fail(Context(migrated.error(), "migrating " + path));
    if (prunable) FW_TRY(db.Exec("INSERT OR IGNORE INTO meta(k, v) VALUES('pruned', '1')"));
    // Checkpoints leave the connect path (issue 14): a second connection copies the WAL back
    // while the next blocks are written; a WAL past 64 MB (16384 pages of 4 KB) is
    // checkpointed by the writer itself.
    // An in-memory store (`ledger verify`) has no WAL: no thread for it.
    if (path != ":memory:") FW_TRY(db.CheckpointInBackground(path, 1000, 16384));
    return std::unique_ptr<ChainStore>(new ChainStore(std::move(db), path));
}

Expected<std::unique_ptr<ChainStore>> ChainStore::OpenReader(const std::string& path) {
    FW_ASSIGN(sql::Db db, sql::Db::Open(path));
    FW_TRY(db.Exec("PRAGMA query_only=1"));
    FW_TRY(DefineStoreFunctions(db));  // the queries that read tx bodies call them
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
    return Write([&]() -> Status {
        FW_ASSIGN(PruneInfo info, Pruning());
        const std::uint64_t from = info.prune_height + 1;  // the genesis body is always kept
        if (to < from) return {};
        const std::string kept = std::string("(type IN ") + kKeptTxTypesSql +
                                 " OR recipient IN (SELECT fw_key(device) FROM kept_devices))";
        // The Merkle path of every kept tx, while its block's tx ids are still all here.
        {
            FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT pos >> 12, id, " + kept +
                                              " FROM txs WHERE pos >= ? AND pos < ? ORDER BY pos"));
            s.Bind(1, FirstPos(from)).Bind(2, FirstPos(to + 1));
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
                ids.push_back(ToHex(s.Blob(1)));
            }
            FW_TRY(flush());
        }
        for (const std::string& sql : {
                 // Rollout evidence, as ForEachOutcome reads it from the txs.
                 std::string(
                     "INSERT OR REPLACE INTO outcomes(product, height, idx, device, state, "
                     "sequence, previous_sequence, rejected) SELECT product, height, idx, "
                     "fw_key_text(recipient), CASE state WHEN 'installed' THEN 0 "
                     "WHEN 'failed' THEN 1 ELSE 2 END, json_extract(b, '$.sequence'), "
                     "json_extract(b, '$.previous_sequence'), "
                     "json_extract(b, '$.rejected') IS NOT NULL FROM (SELECT product, pos >> 12 AS "
                     "height, pos & 4095 AS idx, recipient, state, fw_body(data) AS b "
                     "FROM txs WHERE type = 'update' AND state IN "
                     "('installed', 'failed', 'rolled-back') AND pos >= ?3 AND pos < ?4)"),
                 "DELETE FROM txs WHERE pos >= ?3 AND pos < ?4 AND NOT " + kept,
                 std::string("DELETE FROM undo WHERE block_hash IN (SELECT hash FROM blocks "
                             "WHERE height >= ?1 AND height <= ?2)"),
                 std::string("UPDATE blocks SET body = '', undo = NULL WHERE height >= ?1 AND "
                             "height <= ?2"),
             }) {
            FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
            s.Bind(1, U2I(from)).Bind(2, U2I(to));
            if (sql.find("?3") != std::string::npos) {
                s.Bind(3, FirstPos(from)).Bind(4, FirstPos(to + 1));
            }
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
    return Write([&]() -> Status {
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
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("UPDATE blocks SET main = 1, body = NULL WHERE hash = ?"));
        s.Bind(1, hash);
        FW_TRY(s.Run());
    } else {
        FW_TRY(InsertBlockRow(encoded, work, true));
    }
    // The registry first: a device report keeps its sender as the rowid of its key's row.
    std::unordered_map<std::string, std::int64_t> key_rows;
    {
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("INSERT INTO keys(key, id, subject, role, product, height, revoked, "
                             "revoked_height, last_nonce) VALUES(?,?,?,?,?,?,?,?,?) "
                             "ON CONFLICT(key) DO UPDATE SET revoked = excluded.revoked, "
                             "revoked_height = excluded.revoked_height, "
                             "last_nonce = excluded.last_nonce RETURNING rowid"));
        std::vector<std::pair<std::string, std::optional<KeyRecord>>> undo_rows;
        key_rows.reserve(added.ChangedKeys().size());
        for (const auto& [key, rec] : added.ChangedKeys()) {
            std::optional<KeyRecord> before;
            if (const auto* seen = added.BaseKey(key)) {
                before = *seen;
            } else {
                FW_ASSIGN(before, FindKey(key));
            }
            undo_rows.emplace_back(key, before);
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
            FW_ASSIGN(bool row, s.Step());
            if (!row) return Fail(Errc::kDatabase, "no-rowid", "registry upsert returned no row");
            key_rows.emplace(key, s.Int(0));
            FW_TRY(s.Run());
        }
        // One undo record per block, in its row.
        FW_ASSIGN(sql::Stmt u, db_.Cached("UPDATE blocks SET undo = ? WHERE hash = ?"));
        if (undo_rows.empty()) {
            u.BindNull(1);
        } else {
            const std::string packed = PackUndo(undo_rows);
            u.BindBlob(1, packed.data(), packed.size());
        }
        u.Bind(2, hash);
        FW_TRY(u.Run());
        if (undo_blocks_ > 0 && block.header.height > undo_blocks_) {
            FW_TRY(TrimUndoThrough(block.header.height - undo_blocks_));
        }
    }
    {
        FW_ASSIGN(
            sql::Stmt s,
            db_.Cached("INSERT INTO txs(pos, id, type, recipient, product, ver, state, "
                       "time, data, sender_ref, verifier_ref) VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
        // Packed on a parser thread when the block came through BlockPrefetcher.
        std::vector<EncodedBlock::StoredTx> packed_here;
        if (encoded.stored_txs().size() != block.txs.size()) packed_here = StoredTxsOf(block);
        const auto& stored = packed_here.empty() ? encoded.stored_txs() : packed_here;
        for (std::size_t i = 0; i < block.txs.size(); ++i) {
            const Tx& tx = block.txs[i];
            const Hash256& id = encoded.tx_hashes()[i];
            // The blob leaves out what RefsOf names (StoredTxsOf); its references go in the row.
            const TxRefs refs = RefsOf(tx);
            std::optional<std::int64_t> sender_ref, verifier_ref;
            if (refs.sender) {
                FW_ASSIGN(sender_ref, KeyRowOf(tx.sender, key_rows));
            }
            if (refs.verifier) {
                FW_ASSIGN(verifier_ref, VerifierRef(tx.verifier));
            }
            std::string repacked;
            if (refs.sender && !sender_ref) {
                // Not in the registry (only a tx of the genesis could be): kept in the blob.
                repacked = PackTxData(tx, TxRefs{false, refs.verifier});
            }
            const std::string& data = repacked.empty() ? stored[i].data : repacked;
            s.Reset();
            s.Bind(1, PosOf(block.header.height, i)).BindBlob(2, id.data(), id.size());
            BindKey(s, 4, tx.recipient);
            s.Bind(3, tx.type)
                .Bind(5, stored[i].product)
                .Bind(6, tx.ver)
                .Bind(7, tx.state)
                .Bind(8, tx.time)
                .BindBlob(9, data.data(), data.size());
            if (sender_ref) {
                s.Bind(10, *sender_ref);
            } else {
                s.BindNull(10);
            }
            if (verifier_ref) {
                s.Bind(11, *verifier_ref);
            } else {
                s.BindNull(11);
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
    FW_TRY(tip.Run());
    if (g_after_block_written != nullptr) g_after_block_written(block.header.height);
    return {};
}

Status ChainStore::StoreGenesis(const EncodedBlock& genesis, const StateOverlay& added) {
    return Write([&]() -> Status {
        FW_TRY(WriteBlock(genesis, added, BlockWork(genesis.block().header.bits), true));
        FW_ASSIGN(sql::Stmt s, db_.Cached("INSERT INTO meta(k, v) VALUES('genesis', ?)"));
        s.Bind(1, ToHex(genesis.Hash()));
        return s.Run();
    });
}

Status ChainStore::ConnectBlock(const EncodedBlock& block, const StateOverlay& added, Work work) {
    return Write([&]() -> Status { return WriteBlock(block, added, work, true); });
}

Status ChainStore::Transaction(const std::function<Status()>& fn) { return Write(fn); }

Status ChainStore::Write(const std::function<Status()>& fn) {
    Status st = db_.WriteTransaction(fn);
    if (!st) verifier_refs_.clear();  // refs it added are gone with it
    return st;
}

Expected<std::optional<std::int64_t>> ChainStore::KeyRowOf(
    const std::string& key_hex, const std::unordered_map<std::string, std::int64_t>& changed) {
    if (auto it = changed.find(key_hex); it != changed.end()) return std::optional(it->second);
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT rowid FROM keys WHERE key = ?"));
    s.Bind(1, key_hex);
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::int64_t>();
    return std::optional(s.Int(0));
}

Expected<std::int64_t> ChainStore::VerifierRef(const std::string& hash_hex) {
    if (auto it = verifier_refs_.find(hash_hex); it != verifier_refs_.end()) return it->second;
    auto bytes = FromHex(hash_hex);
    if (!bytes) return Fail(Errc::kInternal, "bad-verifier", "image hash is not hex");
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT ref FROM verifiers WHERE hash = ?"));
    s.BindBlob(1, bytes->data(), bytes->size());
    FW_ASSIGN(bool row, s.Step());
    std::int64_t ref = 0;
    if (row) {
        ref = s.Int(0);
    } else {
        FW_ASSIGN(sql::Stmt add, db_.Cached("INSERT INTO verifiers(hash) VALUES(?)"));
        add.BindBlob(1, bytes->data(), bytes->size());
        FW_TRY(add.Run());
        ref = db_.LastInsertRowId();
    }
    // A handful of images take nearly every report; a flood of distinct hashes only resets it.
    if (verifier_refs_.size() >= 4096) verifier_refs_.clear();
    verifier_refs_.emplace(hash_hex, ref);
    return ref;
}

Status ChainStore::KeepUndoFor(std::uint64_t blocks) {
    undo_blocks_ = blocks;
    if (blocks == 0) return {};
    FW_ASSIGN(auto tip, Tip());
    if (!tip || tip->height <= blocks) return {};
    FW_ASSIGN(const std::uint64_t from, UndoKeptFrom());
    if (tip->height - blocks < from) return {};  // nothing new to drop: no write at start-up
    return Write([&]() { return TrimUndoThrough(tip->height - blocks); });
}

Expected<std::uint64_t> ChainStore::UndoKeptFrom() {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT v FROM meta WHERE k = 'undo_trimmed'"));
    FW_ASSIGN(bool row, s.Step());
    std::uint64_t from = 0;
    if (row) {
        const std::string v = s.Text(0);
        std::from_chars(v.data(), v.data() + v.size(), from);
    }
    return from;
}

Status ChainStore::TrimUndoThrough(std::uint64_t height) {
    // From where the last trim stopped, so that no call rescans the whole chain.
    FW_ASSIGN(const std::uint64_t from, UndoKeptFrom());
    if (height < from) return {};
    for (const char* sql :
         {"UPDATE blocks SET undo = NULL WHERE main = 1 AND height >= ?1 AND height <= ?2 AND "
          "undo IS NOT NULL",
          "DELETE FROM undo WHERE block_hash IN (SELECT hash FROM blocks WHERE main = 1 AND "
          "height >= ?1 AND height <= ?2)"}) {
        FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
        s.Bind(1, U2I(from)).Bind(2, U2I(height));
        FW_TRY(s.Run());
    }
    FW_ASSIGN(sql::Stmt m, db_.Cached("INSERT INTO meta(k, v) VALUES('undo_trimmed', ?) "
                                      "ON CONFLICT(k) DO UPDATE SET v = excluded.v"));
    m.Bind(1, std::to_string(height + 1));
    return m.Run();
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
    // A main-chain block's JSON is rebuilt from its txs; a side block keeps it (body).
    FW_ASSIGN(sql::Stmt s, db_.Cached("INSERT INTO blocks(hash, height, prev, header, time, bits, "
                                      "work, body, main, miner_sig, message) "
                                      "VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
    s.Bind(1, ToHex(block.Hash()))
        .Bind(2, U2I(block.header.height))
        .Bind(3, ToHex(block.header.prev_hash))
        .BindBlob(4, header.data(), header.size())
        .Bind(5, block.header.timestamp)
        .Bind(6, static_cast<std::int64_t>(block.header.bits))
        .Bind(7, WorkToHex(work))
        .Bind(9, static_cast<std::int64_t>(main ? 1 : 0))
        .Bind(10, ToHex(block.miner_sig))
        .Bind(11, block.message);
    if (main) {
        s.BindNull(8);
    } else {
        s.Bind(8, encoded.text());
    }
    return s.Run();
}

Expected<Block> ChainStore::DisconnectTip() {
    FW_ASSIGN(auto tip, Tip());
    if (!tip) return Fail(Errc::kDatabase, "no-tip", "the store holds no blocks");
    if (tip->height == 0) return Fail(Errc::kInternal, "disconnect-genesis", "cannot undo genesis");
    // Undo records this deep were dropped (KeepUndoFor): a reorg may not reach them.
    FW_ASSIGN(const std::uint64_t kept_from, UndoKeptFrom());
    if (tip->height < kept_from) {
        return Fail(Errc::kConflict, "undo-trimmed",
                    "block " + std::to_string(tip->height) +
                        " is below the undo window and cannot be disconnected");
    }
    const std::string hash = ToHex(tip->hash);
    FW_ASSIGN(auto loaded, LoadMainBlock(tip->height));
    if (!loaded) return Fail(Errc::kDatabase, "corrupt-block", "tip block body missing");
    Block block = std::move(loaded->first);
    std::vector<UndoEntry> entries;
    {
        // The block's undo record, and the per-key rows of blocks connected before it existed.
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT undo FROM blocks WHERE hash = ?"));
        s.Bind(1, hash);
        FW_ASSIGN(bool row, s.Step());
        if (row && !s.IsNull(0)) {
            FW_ASSIGN(entries, UnpackUndo(s.Blob(0)));
        }
    }
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT key, prev FROM undo WHERE block_hash = ?"));
        s.Bind(1, hash);
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            UndoEntry u;
            u.key = s.Text(0);
            if (!s.IsNull(1)) {
                auto pj = ParseJson(s.Text(1));
                auto rec = pj ? KeyFromJson(*pj) : std::nullopt;
                if (!rec) return Fail(Errc::kDatabase, "corrupt-undo", "undo row of key " + u.key);
                u.existed = true;
                u.revoked = rec->revoked;
                u.revoked_height = rec->revoked_height;
                u.last_nonce = rec->last_nonce;
            }
            entries.push_back(std::move(u));
        }
    }
    for (const UndoEntry& u : entries) {
        if (!u.existed) {
            FW_ASSIGN(sql::Stmt d, db_.Cached("DELETE FROM keys WHERE key = ?"));
            d.Bind(1, u.key);
            FW_TRY(d.Run());
            continue;
        }
        FW_ASSIGN(sql::Stmt up, db_.Cached("UPDATE keys SET revoked = ?, revoked_height = ?, "
                                           "last_nonce = ? WHERE key = ?"));
        up.Bind(1, static_cast<std::int64_t>(u.revoked ? 1 : 0)).Bind(2, U2I(u.revoked_height));
        if (u.last_nonce) {
            up.Bind(3, U2I(*u.last_nonce));
        } else {
            up.BindNull(3);
        }
        up.Bind(4, u.key);
        FW_TRY(up.Run());
    }
    for (const char* sql :
         {"DELETE FROM undo WHERE block_hash = ?", "DELETE FROM roots WHERE block_hash = ?"}) {
        FW_ASSIGN(sql::Stmt s, db_.Cached(sql));
        s.Bind(1, hash);
        FW_TRY(s.Run());
    }
    {
        // A side block now: it keeps its JSON itself.
        FW_ASSIGN(sql::Stmt s, db_.Cached("UPDATE blocks SET main = 0, undo = NULL, body = ? "
                                          "WHERE hash = ?"));
        s.Bind(1, loaded->second).Bind(2, hash);
        FW_TRY(s.Run());
    }
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("DELETE FROM txs WHERE pos >= ? AND pos < ?"));
        s.Bind(1, FirstPos(tip->height)).Bind(2, FirstPos(tip->height + 1));
        FW_TRY(s.Run());
        FW_ASSIGN(sql::Stmt c, db_.Cached("DELETE FROM claims WHERE height = ?"));
        c.Bind(1, U2I(tip->height));
        FW_TRY(c.Run());
    }
    FW_ASSIGN(sql::Stmt t, db_.Cached("UPDATE meta SET v = ? WHERE k = 'tip'"));
    t.Bind(1, ToHex(tip->prev));
    FW_TRY(t.Run());
    return block;
}

Expected<std::optional<std::pair<Block, std::string>>> ChainStore::LoadMainBlock(
    std::uint64_t height) {
    using Loaded = std::optional<std::pair<Block, std::string>>;
    Block block;
    std::string hash_hex;
    std::string miner_sig;
    std::string header;
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT hash, header, miner_sig, message, body FROM "
                                          "blocks WHERE main = 1 AND height = ?"));
        s.Bind(1, U2I(height));
        FW_ASSIGN(bool row, s.Step());
        if (!row) return Loaded();
        hash_hex = s.Text(0);
        header = s.Blob(1);
        if (header.size() != kHeaderSize) {
            return Fail(Errc::kDatabase, "corrupt-block", "stored block header " + hash_hex);
        }
        if (!s.IsNull(4)) {
            std::string body = s.Text(4);
            if (body.empty()) return Fail(PrunedBlock(hash_hex));
            // Stored whole (a block connected from a side branch before the compact schema).
            FW_ASSIGN(Json j, ParseJson(body));
            FW_ASSIGN(EncodedBlock e, EncodedBlock::Parse(j));
            return Loaded(std::make_pair(std::move(e).Release(), std::move(body)));
        }
        block.header =
            BlockHeader::Deserialize(reinterpret_cast<const std::uint8_t*>(header.data()));
        miner_sig = s.Text(2);
        auto sig = SignatureFromHex(miner_sig);
        if (!sig) return Fail(Errc::kDatabase, "corrupt-block", "stored miner_sig " + hash_hex);
        block.miner_sig = *sig;
        block.message = s.Text(3);
    }
    std::vector<std::string> texts;
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kTxCols +
                                      " FROM txs WHERE pos >= ? AND pos < ? ORDER BY pos"));
    s.Bind(1, FirstPos(height)).Bind(2, FirstPos(height + 1));
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        FW_ASSIGN(Tx tx, RowTx(s, 0));
        texts.push_back(tx.CanonicalText());
        block.txs.push_back(std::move(tx));
    }
    std::string text = BlockText(hash_hex, header, block.message, miner_sig, texts);
    return Loaded(std::make_pair(std::move(block), std::move(text)));
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
    FW_ASSIGN(auto loaded, LoadMainBlock(height));
    if (!loaded) return std::optional<std::string>();
    return std::optional<std::string>(std::move(loaded->second));
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
    std::uint64_t height = 0;
    {
        FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT body, height FROM blocks WHERE hash = ?"));
        s.Bind(1, hash_hex);
        FW_ASSIGN(bool row, s.Step());
        if (!row) return std::optional<std::string>();
        if (!s.IsNull(0)) {
            std::string text = s.Text(0);
            if (text.empty()) return Fail(PrunedBlock(hash_hex));
            return std::optional<std::string>(std::move(text));
        }
        height = I2U(s.Int(1));
    }
    // NULL body: a main-chain block, rebuilt from its txs.
    FW_ASSIGN(auto loaded, LoadMainBlock(height));
    if (!loaded) return Fail(Errc::kDatabase, "corrupt-block", "block body missing: " + hash_hex);
    return std::optional<std::string>(std::move(loaded->second));
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
    const auto key = TxKey(id);
    if (!key) return std::optional<TxRecord>();
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kTxCols + ", " + kTxBlockHash +
                                      " FROM txs WHERE " + kTxIdIs));
    s.BindBlob(1, key->data(), key->size());
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<TxRecord>();
    FW_ASSIGN(TxRecord r, ReadTxRecord(s));
    return std::optional<TxRecord>(std::move(r));
}

Expected<bool> ChainStore::HasTx(const std::string& id) {
    const auto key = TxKey(id);
    if (!key) return false;
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT 1 FROM txs WHERE ") + kTxIdIs));
    s.BindBlob(1, key->data(), key->size());
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
    FW_ASSIGN(sql::Stmt s,
              db_.Cached("SELECT id FROM txs WHERE pos >= ? AND pos < ? ORDER BY pos"));
    s.Bind(1, FirstPos(height)).Bind(2, FirstPos(height + 1));
    std::vector<std::string> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out.push_back(ToHex(s.Blob(0)));
    }
    return out;
}

Expected<SearchPage> ChainStore::Search(const SearchQuery& q) {
    using Param = std::variant<std::int64_t, std::string, sql::Value>;
    std::string where;
    std::vector<Param> params;
    auto add = [&](const std::string& clause, Param p) {
        where += where.empty() ? " WHERE " : " AND ";
        where += clause;
        params.push_back(std::move(p));
    };
    if (!q.device.empty()) {
        add("recipient = ?", KeyValue(q.device));
        where += " AND type IN ('update', 'status')";
    }
    if (!q.product.empty()) add("product = ?", q.product);
    if (!q.ver.empty()) add("ver = ?", q.ver);
    if (!q.state.empty()) add("state = ?", q.state);
    if (!q.type.empty()) {
        add("type = ?", q.type);
        // The few other txs are found by the partial type index; update and status reports
        // (nearly every tx) by a scan newest first, which meets LIMIT quickly.
        if (q.type != txtype::kUpdate && q.type != txtype::kStatus) {
            where += std::string(" AND ") + kTypeIndexed;
        }
    }
    if (q.since) add("time >= ?", *q.since);
    if (q.until) add("time <= ?", *q.until);
    if (!q.cursor.empty()) {
        std::uint64_t height = 0;
        std::uint32_t idx = 0;
        if (!DecodeCursor(q.cursor, &height, &idx)) {
            return Fail(Errc::kInvalid, "bad-cursor", "cursor is not from a previous page");
        }
        // Before (height, idx) in chain order; positions past a block's last tx or a height
        // beyond any chain still mean "everything before".
        if (height < (std::uint64_t{1} << 50)) {
            add("pos < ?", idx < (1u << kPosShift) ? PosOf(height, idx) : FirstPos(height + 1));
        }
    }
    const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, kMaxSearchLimit);
    const std::string sql = std::string("SELECT ") + kTxCols + ", " + kTxBlockHash + " FROM txs" +
                            where + " ORDER BY pos DESC LIMIT ?";
    // One of many filter combinations: prepared per query, not cached.
    FW_ASSIGN(sql::Stmt s, db_.Prepare(sql));
    int n = 1;
    for (const auto& p : params) {
        if (std::holds_alternative<std::int64_t>(p)) {
            s.Bind(n++, std::get<std::int64_t>(p));
        } else if (std::holds_alternative<sql::Value>(p)) {
            const auto& v = std::get<sql::Value>(p);
            if (v.kind == sql::Value::Kind::kBlob) {
                s.BindBlob(n++, v.bytes.data(), v.bytes.size());
            } else {
                s.Bind(n++, v.bytes);
            }
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
        "SELECT recipient, ver, MAX(pos) AS p, pos >> 12 AS height, time FROM txs "
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
        s.Bind(1, product).Bind(3, static_cast<std::int64_t>(limit + 1));
        BindKey(s, 2, cursor);
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            if (r.latest.size() == limit) {
                r.next_cursor = r.latest.back().device;
                break;
            }
            r.latest.push_back(DeviceVersion{KeyText(s, 0), s.Text(1), I2U(s.Int(2)), s.Int(3)});
        }
    }
    return r;
}

Expected<std::optional<std::uint64_t>> ChainStore::LatestReleaseHeight() {
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT pos >> 12 FROM txs WHERE type = 'release' AND " +
                                      std::string(kTypeIndexed) + " ORDER BY pos DESC LIMIT 1"));
    FW_ASSIGN(bool row, s.Step());
    if (!row) return std::optional<std::uint64_t>();
    return std::optional<std::uint64_t>(I2U(s.Int(0)));
}

Expected<std::vector<ChainStore::ReleaseTx>> ChainStore::ReleasesOf(const std::string& product) {
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kTxCols +
                                      " FROM txs WHERE product = ?1 AND type = 'release' "
                                      "ORDER BY pos"));
    s.Bind(1, product);
    std::vector<ReleaseTx> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        FW_ASSIGN(Tx tx, RowTx(s, 0));
        out.push_back(ReleaseTx{ToHex(s.Blob(1)), tx.ver, I2U(s.Int(0)) >> kPosShift, tx.time,
                                tx.CanonicalText()});
    }
    return out;
}

Expected<std::vector<ChainStore::TxTo>> ChainStore::TxsTo(const std::string& recipient,
                                                          const std::string& type) {
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kTxCols +
                                      " FROM txs WHERE recipient = ?1 AND type = ?2 ORDER BY pos"));
    BindKey(s, 1, recipient);
    s.Bind(2, type);
    std::vector<TxTo> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        FW_ASSIGN(Tx tx, RowTx(s, 0));
        out.push_back(TxTo{ToHex(s.Blob(1)), tx.sender, tx.state});
    }
    return out;
}

Status ChainStore::ForEachOutcome(const std::string& product,
                                  const std::function<void(const Outcome&)>& fn) {
    FW_ASSIGN(PruneInfo pruning, Pruning());
    // Below the prune height the compact copies; above it (and for the kept txs of our own
    // devices below it, which are in both) the txs themselves.
    auto from_txs = [](const char* also) {
        return std::string(
                   "SELECT fw_key_text(recipient), state, json_extract(b, '$.sequence'), "
                   "json_extract(b, '$.previous_sequence'), json_extract(b, '$.rejected') IS NOT "
                   "NULL, height, idx FROM (SELECT recipient, state, fw_body(data) AS b, "
                   "pos >> 12 AS height, pos & 4095 AS idx FROM txs INDEXED BY txs_fleet WHERE "
                   "type = 'update' AND product = ?1 AND state IN ('installed', 'failed', "
                   "'rolled-back')") +
               also + ")";
    };
    const std::string sql =
        pruning.prune_height == 0
            ? from_txs("") + " ORDER BY 6, 7"
            : "SELECT device, CASE state WHEN 0 THEN 'installed' WHEN 1 THEN 'failed' ELSE "
              "'rolled-back' END, sequence, previous_sequence, rejected, height, idx FROM "
              "outcomes WHERE product = ?1 AND height <= ?2 UNION ALL " +
                  from_txs(" AND pos >= (?2 + 1) << 12") + " ORDER BY 6, 7";
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

namespace {
// Values per `IN (...)` query of the set-at-a-time reads; a short last chunk binds NULL for the
// rest (NULL matches nothing), so each query is one cached statement.
constexpr std::size_t kInChunk = 64;

std::string InList() {
    std::string list = "(?";
    for (std::size_t i = 1; i < kInChunk; ++i) list += ",?";
    return list + ")";
}

// Runs `s` (a query ending in `IN ` + InList()) over `values` a chunk at a time: bind(s, n, v)
// binds one value, row(s) sees each result row.
template <typename V, typename Bind, typename Row>
Status ForEachInChunks(sql::Stmt& s, const std::vector<V>& values, Bind bind, Row row) {
    for (std::size_t at = 0; at < values.size(); at += kInChunk) {
        s.Reset();
        for (std::size_t i = 0; i < kInChunk; ++i) {
            const int n = static_cast<int>(i + 1);
            if (at + i < values.size()) {
                bind(s, n, values[at + i]);
            } else {
                s.BindNull(n);
            }
        }
        while (true) {
            FW_ASSIGN(bool more, s.Step());
            if (!more) break;
            row(s);
        }
    }
    return {};
}
}  // namespace

Expected<std::vector<std::pair<std::string, std::optional<KeyRecord>>>> ChainStore::FindKeys(
    const std::vector<std::string>& keys_hex) {
    std::vector<std::string> keys = keys_hex;
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::map<std::string, KeyRecord> found;
    FW_ASSIGN(sql::Stmt s, db_.Cached(std::string("SELECT ") + kKeyCols +
                                      " FROM keys WHERE key IN " + InList()));
    FW_TRY(ForEachInChunks(
        s, keys, [](sql::Stmt& q, int n, const std::string& key) { q.Bind(n, key); },
        [&](const sql::Stmt& q) {
            KeyRecord k = ReadKey(q);
            std::string key = k.key;
            found.emplace(std::move(key), std::move(k));
        }));
    std::vector<std::pair<std::string, std::optional<KeyRecord>>> out;
    out.reserve(keys.size());
    for (auto& key : keys) {
        auto it = found.find(key);
        std::optional<KeyRecord> rec;
        if (it != found.end()) rec = std::move(it->second);
        out.emplace_back(std::move(key), std::move(rec));
    }
    return out;
}

Expected<std::set<std::string>> ChainStore::ExistingTxs(const std::vector<std::string>& ids) {
    std::vector<Hash256> keys;
    keys.reserve(ids.size());
    for (const auto& id : ids) {
        if (auto key = TxKey(id)) keys.push_back(*key);  // as HasTx answers
    }
    // By the id-prefix index; a row whose prefix matches but whose id differs is not one.
    const std::set<std::string> wanted(ids.begin(), ids.end());
    std::set<std::string> out;
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT id FROM txs WHERE substr(id, 1, 8) IN " + InList()));
    FW_TRY(ForEachInChunks(
        s, keys, [](sql::Stmt& q, int n, const Hash256& key) { q.BindBlob(n, key.data(), 8); },
        [&](const sql::Stmt& q) {
            std::string id = ToHex(q.Blob(0));
            if (wanted.count(id) != 0) out.insert(std::move(id));
        }));
    return out;
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
        FW_ASSIGN(sql::Stmt s,
                  db_.Cached("SELECT fw_key_text(recipient), COUNT(*), ver, "
                             "json_extract(fw_body(data), '$.sequence'), MAX(pos) FROM txs "
                             "WHERE type = 'release' AND " +
                             std::string(kTypeIndexed) + " GROUP BY recipient"));
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
                  db_.Cached(std::string("SELECT id, ver, json_extract(fw_body(data), "
                                         "'$.sequence'), pos >> 12, ") +
                             kTxBlockHash +
                             ", time FROM txs WHERE type = 'release' AND recipient = ? "
                             "ORDER BY pos DESC LIMIT ?"));
        BindKey(s, 1, product);
        s.Bind(2, static_cast<std::int64_t>(limit));
        while (true) {
            FW_ASSIGN(bool row, s.Step());
            if (!row) break;
            ReleaseSummary r;
            r.id = ToHex(s.Blob(0));
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
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT json_extract(fw_body(data), '$.sequence') AS seq, "
                                      "state, "
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
    FW_ASSIGN(sql::Stmt s, db_.Cached("SELECT pos >> 12 AS h, COUNT(*) FROM txs WHERE pos >= ? "
                                      "AND pos < ? GROUP BY h"));
    s.Bind(1, FirstPos(from))
        .Bind(2, to >= (std::uint64_t{1} << 50) ? INT64_MAX : FirstPos(to + 1));
    std::map<std::uint64_t, std::uint64_t> out;
    while (true) {
        FW_ASSIGN(bool row, s.Step());
        if (!row) break;
        out[I2U(s.Int(0))] = I2U(s.Int(1));
    }
    return out;
}

}  // namespace fwchain::ledger
