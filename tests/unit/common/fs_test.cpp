// Crash-safe file helpers.
#include "common/core/fs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace fwchain {
namespace {

using test::TempDir;

std::size_t EntriesIn(const std::string& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
    return n;
}

TEST(Fs, WriteFileAtomicReplacesContentAndLeavesNoTemp) {
    TempDir dir;
    const std::string path = dir / "state.json";
    ASSERT_TRUE(WriteFileAtomic(path, "first version, quite long"));
    EXPECT_EQ(*ReadFile(path), "first version, quite long");
    ASSERT_TRUE(WriteFileAtomic(path, "second"));
    EXPECT_EQ(*ReadFile(path), "second");
    ASSERT_TRUE(WriteFileAtomic(path, ""));
    EXPECT_EQ(*ReadFile(path), "");
    const std::string binary("a\0b\xff", 4);
    ASSERT_TRUE(WriteFileAtomic(path, binary));
    EXPECT_EQ(*ReadFile(path), binary);
    EXPECT_EQ(EntriesIn(dir.path()), 1u) << "a temporary file was left behind";
}

TEST(Fs, ConcurrentWritersNeverMixContent) {
    // Several threads of one process replace the same file: each write must land whole (the
    // temporary file must not be shared between threads of the same pid).
    TempDir dir;
    const std::string path = dir / "shared";
    constexpr int kThreads = 4;
    constexpr int kRounds = 50;
    std::vector<std::string> contents;
    for (int t = 0; t < kThreads; ++t) {
        contents.push_back(
            std::string(static_cast<std::size_t>(1000 * (t + 1)), static_cast<char>('a' + t)));
    }
    std::vector<int> failures(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int r = 0; r < kRounds; ++r) {
                if (!WriteFileAtomic(path, contents[static_cast<std::size_t>(t)])) {
                    ++failures[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0) << t;
    auto final_content = ReadFile(path);
    ASSERT_TRUE(final_content);
    EXPECT_NE(std::find(contents.begin(), contents.end(), *final_content), contents.end())
        << "mixed content of " << final_content->size() << " bytes";
    EXPECT_EQ(EntriesIn(dir.path()), 1u) << "a temporary file was left behind";
}

TEST(Fs, WriteFileAtomicAppliesModeRegardlessOfUmask) {
    TempDir dir;
    const mode_t old = ::umask(0077);
    auto st1 = WriteFileAtomic(dir / "public", "x", 0644);
    ::umask(old);
    ASSERT_TRUE(st1);
    ASSERT_TRUE(WriteFileAtomic(dir / "secret", "x", 0600));
    struct stat st {};
    ASSERT_EQ(::stat((dir / "public").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    ASSERT_EQ(::stat((dir / "secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // Replacing a 0644 file with a 0600 one tightens it.
    ASSERT_TRUE(WriteFileAtomic(dir / "public", "y", 0600));
    ASSERT_EQ(::stat((dir / "public").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Fs, WriteFileAtomicFailsInMissingDirectory) {
    TempDir dir;
    auto st = WriteFileAtomic(dir / "no/such/dir/file", "x");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::kIo);
}

TEST(Fs, ReadFileLimits) {
    TempDir dir;
    const std::string path = dir / "f";
    ASSERT_TRUE(WriteFileAtomic(path, std::string(100, 'z')));
    auto exact = ReadFile(path, 100);
    ASSERT_TRUE(exact);
    EXPECT_EQ(exact->size(), 100u);
    auto over = ReadFile(path, 99);
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().code, Errc::kTooLarge);
    EXPECT_EQ(over.error().reason, "too-large");
    auto missing = ReadFile(dir / "none");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Errc::kNotFound);
    EXPECT_EQ(missing.error().reason, "not-found");
}

TEST(Fs, MakeDirsAndFileExists) {
    TempDir dir;
    const std::string deep = dir / "a/b/c";
    EXPECT_FALSE(FileExists(deep));
    ASSERT_TRUE(MakeDirs(deep));
    EXPECT_TRUE(FileExists(deep));
    ASSERT_TRUE(MakeDirs(deep));  // idempotent
    ASSERT_TRUE(WriteFileAtomic(deep + "/f", "x"));
    EXPECT_TRUE(FileExists(deep + "/f"));
    EXPECT_TRUE(SyncParentDir(deep + "/f"));
    // A path under a regular file cannot be created.
    EXPECT_FALSE(MakeDirs(deep + "/f/g"));
}

}  // namespace
}  // namespace fwchain
