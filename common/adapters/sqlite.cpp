#include "common/adapters/sqlite.hpp"

#include <sqlite3.h>

#include <mutex>
#include <unordered_map>

namespace fwchain::sql {

namespace {
Error DbError(sqlite3* db, const std::string& what) {
    return MakeError(Errc::kDatabase, "database", what + ": " + (db ? sqlite3_errmsg(db) : "?"));
}
}  // namespace

void SetSoftHeapLimit(std::int64_t bytes) { sqlite3_soft_heap_limit64(bytes); }
std::int64_t MemoryUsed() { return sqlite3_memory_used(); }
std::int64_t MemoryHighwater() { return sqlite3_memory_highwater(0); }

Expected<Db> Db::Open(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        Error e = DbError(raw, "cannot open " + path);
        sqlite3_close(raw);
        return Fail(e);
    }
    Db db(raw);
    sqlite3_busy_timeout(raw, 10000);
    FW_TRY(db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
    return db;
}

// Statements compiled once per connection, keyed by their SQL text. `lent` marks one in use by
// a live Stmt handle. Map nodes never move, so a handle keeps a pointer to its entry's flag.
struct Db::StmtCache {
    struct Entry {
        sqlite3_stmt* stmt = nullptr;
        bool lent = false;
    };
    std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
};

Db::Db(sqlite3* db) : db_(db), cache_(std::make_unique<StmtCache>()) {}

Db::Db(Db&& o) noexcept : db_(o.db_), cache_(std::move(o.cache_)) { o.db_ = nullptr; }
Db& Db::operator=(Db&& o) noexcept {
    if (this != &o) {
        Close();
        db_ = o.db_;
        cache_ = std::move(o.cache_);
        o.db_ = nullptr;
    }
    return *this;
}
Db::~Db() { Close(); }

void Db::Close() {
    if (cache_) {
        for (auto& [sql, e] : cache_->entries) sqlite3_finalize(e.stmt);
        cache_->entries.clear();
    }
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
}

Status Db::Exec(const std::string& sql) {
    char* msg = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
        std::string m = msg ? msg : sqlite3_errstr(rc);
        sqlite3_free(msg);
        return Fail(Errc::kDatabase, "database", m);
    }
    return {};
}

Expected<Stmt> Db::Prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) !=
        SQLITE_OK) {
        return Fail(DbError(db_, "cannot prepare statement"));
    }
    return Stmt(db_, s);
}

Expected<Stmt> Db::Cached(const std::string& sql) {
    {
        std::lock_guard<std::mutex> lock(cache_->mu);
        auto it = cache_->entries.find(sql);
        if (it != cache_->entries.end()) {
            if (it->second.lent) return Prepare(sql);  // nested use: an ordinary statement
            it->second.lent = true;
            Stmt s(db_, it->second.stmt);
            s.lender_ = cache_.get();
            s.lent_ = &it->second.lent;
            return s;
        }
    }
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
        return Fail(DbError(db_, "cannot prepare statement"));
    }
    std::lock_guard<std::mutex> lock(cache_->mu);
    auto [it, inserted] = cache_->entries.emplace(sql, StmtCache::Entry{raw, true});
    if (!inserted) {
        // Another thread cached the same SQL meanwhile: use ours as an ordinary statement.
        return Stmt(db_, raw);
    }
    Stmt s(db_, raw);
    s.lender_ = cache_.get();
    s.lent_ = &it->second.lent;
    return s;
}

Status Db::WriteTransaction(const std::function<Status()>& fn) {
    FW_TRY(Exec("BEGIN IMMEDIATE"));
    Status st = fn();
    if (!st) {
        (void)Exec("ROLLBACK");
        return st;
    }
    Status commit = Exec("COMMIT");
    if (!commit) {
        (void)Exec("ROLLBACK");
        return commit;
    }
    return {};
}

Status Db::Migrate(const std::vector<std::string>& migrations) {
    std::size_t version = 0;
    {
        // Finished before migrating: a pending read would lock DROP statements out.
        FW_ASSIGN(Stmt q, Prepare("PRAGMA user_version"));
        FW_ASSIGN(bool row, q.Step());
        if (row) version = static_cast<std::size_t>(q.Int(0));
    }
    if (version > migrations.size()) {
        return Fail(Errc::kDatabase, "schema-too-new",
                    "database schema v" + std::to_string(version) +
                        " is newer than this program knows (v" + std::to_string(migrations.size()) +
                        ")");
    }
    for (std::size_t i = version; i < migrations.size(); ++i) {
        FW_TRY(WriteTransaction([&]() -> Status {
            FW_TRY(Exec(migrations[i]));
            return Exec("PRAGMA user_version=" + std::to_string(i + 1));
        }));
    }
    return {};
}

std::int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), s_(o.s_), lender_(o.lender_), lent_(o.lent_) {
    o.s_ = nullptr;
    o.lender_ = nullptr;
    o.lent_ = nullptr;
}
Stmt& Stmt::operator=(Stmt&& o) noexcept {
    if (this != &o) {
        Release();
        db_ = o.db_;
        s_ = o.s_;
        lender_ = o.lender_;
        lent_ = o.lent_;
        o.s_ = nullptr;
        o.lender_ = nullptr;
        o.lent_ = nullptr;
    }
    return *this;
}
Stmt::~Stmt() { Release(); }

void Stmt::Release() {
    if (s_ == nullptr) return;
    if (lender_ == nullptr) {
        sqlite3_finalize(s_);
    } else {
        Reset();
        std::lock_guard<std::mutex> lock(lender_->mu);
        *lent_ = false;
    }
    s_ = nullptr;
    lender_ = nullptr;
    lent_ = nullptr;
}

Stmt& Stmt::Bind(int idx, std::int64_t v) {
    sqlite3_bind_int64(s_, idx, v);
    return *this;
}
Stmt& Stmt::Bind(int idx, const std::string& v) {
    sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}
Stmt& Stmt::BindBlob(int idx, const void* data, std::size_t size) {
    sqlite3_bind_blob(s_, idx, data, static_cast<int>(size), SQLITE_TRANSIENT);
    return *this;
}
Stmt& Stmt::BindNull(int idx) {
    sqlite3_bind_null(s_, idx);
    return *this;
}

Expected<bool> Stmt::Step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(DbError(db_, "statement failed"));
}

Status Stmt::Run() {
    for (;;) {
        FW_ASSIGN(bool row, Step());
        if (!row) break;
    }
    Reset();
    return {};
}

void Stmt::Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
}

std::int64_t Stmt::Int(int col) const { return sqlite3_column_int64(s_, col); }
std::string Stmt::Text(int col) const {
    auto p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
}
std::string Stmt::Blob(int col) const {
    auto p = sqlite3_column_blob(s_, col);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
             : std::string();
}
bool Stmt::IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

}  // namespace fwchain::sql
