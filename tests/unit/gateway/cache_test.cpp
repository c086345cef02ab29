#include "gateway/cache/cache.hpp"

#include <gtest/gtest.h>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::gateway {
namespace {

std::string Put(ContentCache& cache, const std::string& content) {
    std::string sha = Sha256Hex(content);
    EXPECT_TRUE(WriteFileAtomic(cache.PartialPathOf(sha), content));
    auto st = cache.Commit(sha, content.size());
    EXPECT_TRUE(st) << st.error().ToString();
    return sha;
}

TEST(ContentCache, CommitVerifiesSizeAndHashAndLeavesNothingBehindOnFailure) {
    test::TempDir tmp;
    auto cache = ContentCache::Open(tmp / "cache", 0);
    ASSERT_TRUE(cache);
    const std::string content = "firmware";
    const std::string sha = Sha256Hex(content);

    ASSERT_TRUE(WriteFileAtomic((*cache)->PartialPathOf(sha), "firmwarX"));
    auto wrong_hash = (*cache)->Commit(sha, content.size());
    ASSERT_FALSE(wrong_hash);
    EXPECT_EQ(wrong_hash.error().reason, "hash-mismatch");
    EXPECT_FALSE((*cache)->Has(sha));
    EXPECT_FALSE(FileExists((*cache)->PathOf(sha)));
    EXPECT_FALSE(FileExists((*cache)->PartialPathOf(sha)));

    ASSERT_TRUE(WriteFileAtomic((*cache)->PartialPathOf(sha), content + "!"));
    auto wrong_size = (*cache)->Commit(sha, content.size());
    ASSERT_FALSE(wrong_size);
    EXPECT_EQ(wrong_size.error().reason, "size-mismatch");

    Put(**cache, content);
    EXPECT_TRUE((*cache)->Has(sha));
    EXPECT_EQ(*ReadFile((*cache)->PathOf(sha)), content);
}

TEST(ContentCache, EvictsLeastRecentlyUsedButNeverAPinnedImage) {
    test::TempDir tmp;
    auto opened = ContentCache::Open(tmp / "cache", 25);  // room for two 10-byte images
    ASSERT_TRUE(opened);
    ContentCache& cache = **opened;
    std::string a = Put(cache, "aaaaaaaaaa");
    std::string b = Put(cache, "bbbbbbbbbb");
    ASSERT_TRUE(cache.Pin(a));  // a device is fetching a: it must survive
    std::string c = Put(cache, "cccccccccc");
    EXPECT_TRUE(cache.Has(a));
    EXPECT_FALSE(cache.Has(b));
    EXPECT_TRUE(cache.Has(c));
    cache.Unpin(a);
    ASSERT_TRUE(cache.Pin(c));
    cache.Unpin(c);  // c is now the most recently used
    std::string d = Put(cache, "dddddddddd");
    EXPECT_FALSE(cache.Has(a));
    EXPECT_TRUE(cache.Has(c));
    EXPECT_TRUE(cache.Has(d));
    EXPECT_LE(cache.TotalBytes(), 25u);
}

TEST(ContentCache, ReopenFindsCommittedImages) {
    test::TempDir tmp;
    std::string sha;
    {
        auto cache = ContentCache::Open(tmp / "cache", 0);
        ASSERT_TRUE(cache);
        sha = Put(**cache, "persisted image");
    }
    auto cache = ContentCache::Open(tmp / "cache", 0);
    ASSERT_TRUE(cache);
    EXPECT_TRUE((*cache)->Has(sha));
}

}  // namespace
}  // namespace fwchain::gateway
