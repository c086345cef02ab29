#pragma once
// RAII SQLite: a connection, prepared statements with typed binding, write transactions,
// and numbered forward-only migrations (PRAGMA user_version).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/expected.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fwchain::sql {

class Stmt;

// A value passed to or returned from an application-defined SQL function.
struct Value {
    enum class Kind { kNull, kInt, kText, kBlob };
    Kind kind = Kind::kNull;
    std::int64_t i = 0;
    std::string bytes;  // kText, kBlob
};
// A deterministic scalar SQL function; an error makes the calling statement fail.
using ScalarFunction = std::function<Expected<Value>(const std::vector<Value>& args)>;

class Db {
  public:
    // Opens (creating) the file with WAL, synchronous=NORMAL, foreign keys, busy timeout.
    static Expected<Db> Open(const std::string& path);
    Db(Db&&) noexcept;
    Db& operator=(Db&&) noexcept;
    ~Db();

    Status Exec(const std::string& sql);
    Expected<Stmt> Prepare(const std::string& sql);
    // Like Prepare, but the statement is compiled once per connection and kept: the returned
    // handle lends it out and resets it (bindings cleared, read snapshot released) when it goes.
    // For hot paths; a statement already lent out (a nested call) is prepared afresh instead.
    Expected<Stmt> Cached(const std::string& sql);
    // Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back if fn fails.
    Status WriteTransaction(const std::function<Status()>& fn);
    // Applies migrations[user_version..] each in its own transaction.
    Status Migrate(const std::vector<std::string>& migrations);
    // Registers `fn` as the SQL function `name` with `n_args` arguments on this connection
    // (queries and migrations may call it). `fn` must outlive the connection's use of it.
    Status DefineFunction(const std::string& name, int n_args, ScalarFunction fn);
    // Moves WAL checkpoints out of commits: SQLite's automatic checkpoint (run by the
    // committing connection) is switched off, and after a commit that leaves at least
    // `soft_pages` frames in the WAL a background thread checkpoints (PASSIVE) from a second
    // connection to `path`, concurrently with the next writes. A commit that leaves
    // `hard_pages` or more checkpoints itself, which bounds the WAL when the background thread
    // cannot keep up (a reader pinning old frames, a starved core). Call once, after Open.
    Status CheckpointInBackground(const std::string& path, int soft_pages, int hard_pages);
    // Background checkpoints run so far (tests and metrics).
    std::uint64_t BackgroundCheckpoints() const;
    struct Checkpointer;  // defined in sqlite.cpp
    std::int64_t LastInsertRowId() const;
    int Changes() const;
    sqlite3* raw() { return db_; }

  private:
    friend class Stmt;
    struct StmtCache;
    explicit Db(sqlite3* db);
    void Close();
    sqlite3* db_ = nullptr;
    std::unique_ptr<StmtCache> cache_;
    std::unique_ptr<Checkpointer> checkpointer_;
};

class Stmt {
  public:
    Stmt(Stmt&&) noexcept;
    Stmt& operator=(Stmt&&) noexcept;
    ~Stmt();

    // Binding is 1-based like SQLite. Returns *this for chaining.
    Stmt& Bind(int idx, std::int64_t v);
    Stmt& Bind(int idx, const std::string& v);
    Stmt& BindBlob(int idx, const void* data, std::size_t size);
    Stmt& BindNull(int idx);

    // true = a row is available, false = done.
    Expected<bool> Step();
    // Step until done (for writes).
    Status Run();
    void Reset();

    std::int64_t Int(int col) const;
    std::string Text(int col) const;
    std::string Blob(int col) const;
    bool IsNull(int col) const;
    bool IsBlob(int col) const;

  private:
    friend class Db;
    Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
    void Release();
    sqlite3* db_ = nullptr;
    sqlite3_stmt* s_ = nullptr;
    // Set when the statement is lent by Db::Cached: handed back instead of finalised.
    Db::StmtCache* lender_ = nullptr;
    bool* lent_ = nullptr;
};

// Caps the memory SQLite takes in this process: past `bytes`, its page caches give pages back
// before they grow (a soft limit: no query fails for it). For programs on small devices (the
// gateway); 0 removes the cap.
void SetSoftHeapLimit(std::int64_t bytes);
// Turns off SQLite's memory statistics for this process: every allocation SQLite makes then
// skips a process-wide mutex (measured at ~4.5 % of a block replay's CPU). SetSoftHeapLimit,
// MemoryUsed and MemoryHighwater stop working. Call before any database is opened (false
// otherwise); for programs that do not cap SQLite's memory (the ledger node).
bool DisableMemoryStatistics();
// Bytes SQLite holds in this process now, and the most it held.
std::int64_t MemoryUsed();
std::int64_t MemoryHighwater();

}  // namespace fwchain::sql
