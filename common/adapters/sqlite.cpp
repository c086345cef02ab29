#include "common/adapters/sqlite.hpp"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace fwchain::sql {

namespace {
Error DbError(sqlite3* db, const std::string& what) {
    return MakeError(Errc::kDatabase, "database", what + ": " + (db ? sqlite3_errmsg(db) : "?"));
}
}  // namespace

void SetSoftHeapLimit(std::int64_t bytes) { sqlite3_soft_heap_limit64(bytes); }
bool DisableMemoryStatistics() { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }
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

// The background WAL checkpointer (CheckpointInBackground): its own connection and thread,
// woken by the writer's WAL hook.
struct Db::Checkpointer {
    sqlite3* conn = nullptr;
    int soft_pages = 0;
    int hard_pages = 0;
    std::mutex mu;
    std::condition_variable cv;
    bool pending = false;
    bool stop = false;
    std::atomic<std::uint64_t> done{0};
    std::thread thread;

    void Run() {
        std::unique_lock<std::mutex> lock(mu);
        while (true) {
            cv.wait(lock, [&] { return pending || stop; });
            if (stop) return;
            pending = false;
            lock.unlock();
            // PASSIVE: copies what no reader still needs, never waits for the writer.
            sqlite3_wal_checkpoint_v2(conn, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
            done.fetch_add(1);
            lock.lock();
        }
    }
    void Stop() {
        {
            std::lock_guard<std::mutex> lock(mu);
            stop = true;
        }
        cv.notify_one();
        if (thread.joinable()) thread.join();
        sqlite3_close_v2(conn);
        conn = nullptr;
    }
};

namespace {
int OnWalCommit(void* arg, sqlite3* db, const char* name, int pages) {
    auto* c = static_cast<Db::Checkpointer*>(arg);
    if (pages >= c->hard_pages) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= c->soft_pages) {
        {
            std::lock_guard<std::mutex> lock(c->mu);
            c->pending = true;
        }
        c->cv.notify_one();
    }
    return SQLITE_OK;
}
}  // namespace

Status Db::CheckpointInBackground(const std::string& path, int soft_pages, int hard_pages) {
    if (checkpointer_) return {};
    auto c = std::make_unique<Checkpointer>();
    if (sqlite3_open_v2(path.c_str(), &c->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK) {
        Error e = DbError(c->conn, "cannot open " + path + " for checkpoints");
        sqlite3_close(c->conn);
        return Fail(e);
    }
    sqlite3_busy_timeout(c->conn, 10000);
    c->soft_pages = soft_pages;
    c->hard_pages = hard_pages;
    c->thread = std::thread([p = c.get()] { p->Run(); });
    // Replaces the automatic checkpoint (sqlite3_wal_autocheckpoint installs a WAL hook too).
    sqlite3_wal_hook(db_, OnWalCommit, c.get());
    checkpointer_ = std::move(c);
    return {};
}

std::uint64_t Db::BackgroundCheckpoints() const {
    return checkpointer_ ? checkpointer_->done.load() : 0;
}

Db::Db(sqlite3* db) : db_(db), cache_(std::make_unique<StmtCache>()) {}

Db::Db(Db&& o) noexcept
    : db_(o.db_), cache_(std::move(o.cache_)), checkpointer_(std::move(o.checkpointer_)) {
    o.db_ = nullptr;
}
Db& Db::operator=(Db&& o) noexcept {
    if (this != &o) {
        Close();
        db_ = o.db_;
        cache_ = std::move(o.cache_);
        checkpointer_ = std::move(o.checkpointer_);
        o.db_ = nullptr;
    }
    return *this;
}
Db::~Db() { Close(); }

void Db::Close() {
    if (checkpointer_) {
        if (db_) sqlite3_wal_hook(db_, nullptr, nullptr);
        checkpointer_->Stop();
        checkpointer_.reset();
    }
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

namespace {
void CallScalar(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    const auto* fn = static_cast<const ScalarFunction*>(sqlite3_user_data(ctx));
    std::vector<Value> args(static_cast<std::size_t>(argc));
    for (int i = 0; i < argc; ++i) {
        Value& v = args[static_cast<std::size_t>(i)];
        switch (sqlite3_value_type(argv[i])) {
            case SQLITE_INTEGER:
                v.kind = Value::Kind::kInt;
                v.i = sqlite3_value_int64(argv[i]);
                break;
            case SQLITE_TEXT:
            case SQLITE_FLOAT: {
                v.kind = Value::Kind::kText;
                const auto* p = sqlite3_value_text(argv[i]);
                v.bytes.assign(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_value_bytes(argv[i])));
                break;
            }
            case SQLITE_BLOB: {
                v.kind = Value::Kind::kBlob;
                const auto* p = static_cast<const char*>(sqlite3_value_blob(argv[i]));
                const auto n = static_cast<std::size_t>(sqlite3_value_bytes(argv[i]));
                if (p != nullptr) v.bytes.assign(p, n);
                break;
            }
            default:
                break;
        }
    }
    Expected<Value> r = (*fn)(args);
    if (!r) {
        const std::string msg = r.error().ToString();
        sqlite3_result_error(ctx, msg.c_str(), static_cast<int>(msg.size()));
        return;
    }
    switch (r->kind) {
        case Value::Kind::kNull:
            sqlite3_result_null(ctx);
            break;
        case Value::Kind::kInt:
            sqlite3_result_int64(ctx, r->i);
            break;
        case Value::Kind::kText:
            sqlite3_result_text(ctx, r->bytes.data(), static_cast<int>(r->bytes.size()),
                                SQLITE_TRANSIENT);
            break;
        case Value::Kind::kBlob:
            sqlite3_result_blob(ctx, r->bytes.data(), static_cast<int>(r->bytes.size()),
                                SQLITE_TRANSIENT);
            break;
    }
}
void DestroyScalar(void* p) { delete static_cast<ScalarFunction*>(p); }
}  // namespace

Status Db::DefineFunction(const std::string& name, int n_args, ScalarFunction fn) {
    auto* owned = new ScalarFunction(std::move(fn));
    if (sqlite3_create_function_v2(db_, name.c_str(), n_args, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   owned, CallScalar, nullptr, nullptr,
                                   DestroyScalar) != SQLITE_OK) {
        // sqlite3_create_function_v2 calls the destructor itself when it fails.
        return Fail(DbError(db_, "cannot define SQL function " + name));
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
bool Stmt::IsBlob(int col) const { return sqlite3_column_type(s_, col) == SQLITE_BLOB; }

}  // namespace fwchain::sql
