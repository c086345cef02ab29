// Runs the real `gateway` executable for what only its startup shows.
#include <gtest/gtest.h>

#include "common/core/fs.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::gateway {
namespace {

using fwchain::test::Bin;

// A wrong --root file: the error names the file, and the failed start leaves no fresh key.
TEST(GatewayCli, AFailedStartNamesTheRootFileAndLeavesNoKey) {
    fwchain::test::TempDir tmp;
    // JSON, but not an envelope (e.g. the vendor's config.json passed by mistake).
    ASSERT_TRUE(WriteFileAtomic(tmp / "not-a-root.json", R"({"vendor":"acme"})"));
    auto r =
        fwchain::test::Run({Bin("gateway"), "run", "--data", tmp / "gw", "--root",
                            tmp / "not-a-root.json", "--vendor", "http://127.0.0.1:9", "--ledger",
                            "http://127.0.0.1:9", "--listen", "127.0.0.1:0", "--no-bittorrent"},
                           std::chrono::seconds(30));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(tmp / "not-a-root.json"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("signed"), std::string::npos) << r.err;
    EXPECT_FALSE(FileExists(tmp / "gw/gateway.key")) << "a failed start left a fresh key behind";
}

}  // namespace
}  // namespace fwchain::gateway
