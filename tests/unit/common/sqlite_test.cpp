// The SQLite adapter on a real file: migrations, write transactions, typed statements.
#include "common/adapters/sqlite.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace fwchain::sql {
namespace {

using test::TempDir;

const std::vector<std::string> kMigrations = {
    "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)",
    "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
    "INSERT INTO counter (id, n) VALUES (1, 0)",
};

std::int64_t UserVersion(Db& db) {
    auto q = db.Prepare("PRAGMA user_version");
    EXPECT_TRUE(q);
    if (!q) return -1;
    auto row = q->Step();
    EXPECT_TRUE(row && *row);
    return q->Int(0);
}

std::int64_t CountRows(Db& db, const std::string& table) {
    auto q = db.Prepare("SELECT count(*) FROM " + table);
    EXPECT_TRUE(q);
    if (!q) return -1;
    auto row = q->Step();
    EXPECT_TRUE(row && *row);
    return q->Int(0);
}

TEST(Sqlite, MigrateAppliesOnceAcrossReopen) {
    TempDir dir;
    const std::string path = dir / "test.db";
    {
        auto db = Db::Open(path);
        ASSERT_TRUE(db) << db.error().ToString();
        EXPECT_EQ(UserVersion(*db), 0);
        ASSERT_TRUE(db->Migrate({kMigrations[0]}));
        EXPECT_EQ(UserVersion(*db), 1);
        auto ins = db->Prepare("INSERT INTO kv (k, v) VALUES (?, ?)");
        ASSERT_TRUE(ins);
        ASSERT_TRUE(ins->Bind(1, std::string("a")).BindBlob(2, "\x00\x01", 2).Run());
    }
    {
        // Reopen: migration 1 is not re-run (it would fail: the table exists), 2 is applied.
        auto db = Db::Open(path);
        ASSERT_TRUE(db);
        EXPECT_EQ(UserVersion(*db), 1);
        auto st = db->Migrate(kMigrations);
        ASSERT_TRUE(st) << st.error().ToString();
        EXPECT_EQ(UserVersion(*db), 2);
        EXPECT_EQ(CountRows(*db, "kv"), 1);
        EXPECT_EQ(CountRows(*db, "counter"), 1);
        ASSERT_TRUE(db->Migrate(kMigrations));  // no-op
        EXPECT_EQ(CountRows(*db, "counter"), 1);
    }
    {
        auto db = Db::Open(path);
        ASSERT_TRUE(db);
        EXPECT_EQ(UserVersion(*db), 2);
        // A program that knows fewer migrations refuses the newer schema.
        auto st = db->Migrate({kMigrations[0]});
        ASSERT_FALSE(st);
        EXPECT_EQ(st.error().reason, "schema-too-new");
    }
}

TEST(Sqlite, FailedMigrationLeavesVersionUnchanged) {
    TempDir dir;
    auto db = Db::Open(dir / "m.db");
    ASSERT_TRUE(db);
    auto st = db->Migrate({kMigrations[0], "CREATE TABLE broken (", kMigrations[1]});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::kDatabase);
    EXPECT_EQ(UserVersion(*db), 1);
}

TEST(Sqlite, WriteTransactionCommitsOrRollsBack) {
    TempDir dir;
    const std::string path = dir / "tx.db";
    auto db = Db::Open(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Migrate(kMigrations));

    auto insert = [&](const std::string& k) -> Status {
        FW_ASSIGN(Stmt s, db->Prepare("INSERT INTO kv (k, v) VALUES (?, ?)"));
        s.Bind(1, k).BindBlob(2, k.data(), k.size());
        return s.Run();
    };

    ASSERT_TRUE(db->WriteTransaction([&]() -> Status {
        FW_TRY(insert("committed"));
        return {};
    }));
    EXPECT_EQ(CountRows(*db, "kv"), 1);

    // The callback fails after a successful write: the write is rolled back and the
    // callback's error is returned unchanged.
    auto failed = db->WriteTransaction([&]() -> Status {
        FW_TRY(insert("rolled-back"));
        return Fail(Errc::kConflict, "test-failure", "deliberate");
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().reason, "test-failure");
    EXPECT_EQ(CountRows(*db, "kv"), 1);

    // A failing statement (primary key conflict) inside the transaction rolls back too.
    auto conflict = db->WriteTransaction([&]() -> Status {
        FW_TRY(insert("other"));
        return insert("committed");
    });
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().code, Errc::kDatabase);
    EXPECT_EQ(CountRows(*db, "kv"), 1);

    // The connection is usable afterwards (no transaction left open).
    ASSERT_TRUE(db->WriteTransaction([&] { return insert("after"); }));
    EXPECT_EQ(CountRows(*db, "kv"), 2);

    // And a fresh connection sees exactly the committed rows.
    auto other = Db::Open(path);
    ASSERT_TRUE(other);
    EXPECT_EQ(CountRows(*other, "kv"), 2);
}

TEST(Sqlite, StatementsBindAndReadTypes) {
    TempDir dir;
    auto db = Db::Open(dir / "t.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)"));
    auto ins = db->Prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
    ASSERT_TRUE(ins);
    const std::string blob("\x00\xff\x10", 3);
    ASSERT_TRUE(ins->Bind(1, std::int64_t{INT64_MIN})
                    .Bind(2, std::string("h\xc3\xa9"))
                    .BindBlob(3, blob.data(), blob.size())
                    .BindNull(4)
                    .Run());
    EXPECT_EQ(db->Changes(), 1);
    EXPECT_EQ(db->LastInsertRowId(), 1);
    // Run() resets: the statement can be reused.
    ASSERT_TRUE(ins->Bind(1, std::int64_t{2}).Bind(2, std::string("x")).Run());
    EXPECT_EQ(db->LastInsertRowId(), 2);

    auto q = db->Prepare("SELECT i, s, b, n FROM t ORDER BY rowid");
    ASSERT_TRUE(q);
    auto row = q->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(q->Int(0), INT64_MIN);
    EXPECT_EQ(q->Text(1), "h\xc3\xa9");
    EXPECT_EQ(q->Blob(2), blob);
    EXPECT_TRUE(q->IsNull(3));
    row = q->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(q->Int(0), 2);
    EXPECT_TRUE(q->IsNull(2));  // bindings were cleared by Run()
    row = q->Step();
    ASSERT_TRUE(row);
    EXPECT_FALSE(*row);

    auto bad = db->Prepare("SELEKT 1");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::kDatabase);
    EXPECT_FALSE(db->Exec("INSERT INTO missing VALUES (1)"));
}

TEST(Sqlite, CachedStatementsAreResetOnReturnAndSafeToNest) {
    TempDir dir;
    auto db = Db::Open(dir / "t.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (i INTEGER); INSERT INTO t VALUES (1), (2), (3)"));
    const std::string sql = "SELECT i FROM t WHERE i >= ? ORDER BY i";
    {
        auto outer = db->Cached(sql);
        ASSERT_TRUE(outer);
        outer->Bind(1, std::int64_t{2});
        auto row = outer->Step();
        ASSERT_TRUE(row && *row);
        EXPECT_EQ(outer->Int(0), 2);
        // The same SQL while `outer` is mid-iteration: a separate statement, not the lent one.
        auto inner = db->Cached(sql);
        ASSERT_TRUE(inner);
        inner->Bind(1, std::int64_t{1});
        row = inner->Step();
        ASSERT_TRUE(row && *row);
        EXPECT_EQ(inner->Int(0), 1);
        row = outer->Step();
        ASSERT_TRUE(row && *row);
        EXPECT_EQ(outer->Int(0), 3);
    }
    // Returned mid-iteration: the next loan starts afresh with its bindings cleared (NULL
    // matches nothing), and a write is not blocked by a lingering read.
    auto again = db->Cached(sql);
    ASSERT_TRUE(again);
    auto row = again->Step();
    ASSERT_TRUE(row);
    EXPECT_FALSE(*row);
    again = db->Cached("INSERT INTO t VALUES (?)");
    ASSERT_TRUE(again);
    ASSERT_TRUE(again->Bind(1, std::int64_t{4}).Run());
    auto count = db->Cached("SELECT COUNT(*) FROM t");
    ASSERT_TRUE(count);
    row = count->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(count->Int(0), 4);
    EXPECT_FALSE(db->Cached("SELEKT 1"));
}

// Writes `commits` transactions of about `pages_each` 4 KB pages each.
void WritePages(Db& db, int commits, int pages_each) {
    ASSERT_TRUE(db.Exec("CREATE TABLE IF NOT EXISTS big (v BLOB NOT NULL)"));
    const std::string blob(3500, 'x');
    for (int c = 0; c < commits; ++c) {
        ASSERT_TRUE(db.WriteTransaction([&]() -> Status {
            for (int i = 0; i < pages_each; ++i) {
                FW_ASSIGN(Stmt s, db.Cached("INSERT INTO big (v) VALUES (?)"));
                s.BindBlob(1, blob.data(), blob.size());
                FW_TRY(s.Run());
            }
            return {};
        }));
    }
}

std::int64_t FileSize(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return 0;
    std::fseek(f, 0, SEEK_END);
    const long n = std::ftell(f);
    std::fclose(f);
    return n;
}

TEST(Sqlite, BackgroundCheckpointsRunOffTheCommittingConnection) {
    TempDir dir;
    const std::string path = dir / "wal.db";
    auto db = Db::Open(path);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->CheckpointInBackground(path, 1, 1 << 30));
    WritePages(*db, 3, 5);
    // Polls with a deadline: the thread runs when it is scheduled.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (db->BackgroundCheckpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    EXPECT_GT(db->BackgroundCheckpoints(), 0u);
    auto q = db->Prepare("SELECT COUNT(*) FROM big");
    ASSERT_TRUE(q);
    auto row = q->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(q->Int(0), 15);
}

TEST(Sqlite, TheHardLimitBoundsTheWalWhenNoBackgroundCheckpointRuns) {
    TempDir dir;
    const std::string bounded = dir / "bounded.db";
    const std::string unbounded = dir / "unbounded.db";
    {
        auto db = Db::Open(bounded);
        ASSERT_TRUE(db);
        // The background thread never fires (soft limit out of reach); the writer checkpoints
        // itself at 50 pages.
        ASSERT_TRUE(db->CheckpointInBackground(bounded, 1 << 30, 50));
        WritePages(*db, 40, 10);
        EXPECT_EQ(db->BackgroundCheckpoints(), 0u);
        EXPECT_LT(FileSize(bounded + "-wal"), 100 * 4096 + 65536);
    }
    {
        auto db = Db::Open(unbounded);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->Exec("PRAGMA wal_autocheckpoint=0"));
        WritePages(*db, 40, 10);
        EXPECT_GT(FileSize(unbounded + "-wal"), 300 * 4096);  // what the limit prevents
    }
}

TEST(Sqlite, OpenFailsInMissingDirectory) {
    TempDir dir;
    auto db = Db::Open(dir / "no/such/dir/x.db");
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, Errc::kDatabase);
}

}  // namespace
}  // namespace fwchain::sql
