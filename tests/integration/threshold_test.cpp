// Release threshold 2 of 3 (issue 10 item 5), end to end through the real executables: publish
// stages a manifest signed by the one release key the server holds, a second key holder signs it
// offline, release-staged records it, and a device installs it (devices check the threshold).
#include <gtest/gtest.h>

#include <regex>

#include "common/core/crypto.hpp"
#include "tests/integration/system.hpp"

namespace fwchain::test {
namespace {

TEST(ThresholdSigning, TwoOfThreeReleaseKeysEndToEndToADevice) {
    System sys;
    sys.Tag("v1.0.0", "First release");
    const std::string dir = sys.dir();
    const SigningKey qa = SigningKey::Generate();
    const SigningKey cto = SigningKey::Generate();
    ASSERT_TRUE(qa.Save(dir + "/qa-release.key"));
    ASSERT_TRUE(cto.Save(dir + "/cto-release.key"));

    // Two outside release keys and threshold 2: add-key says exactly what it added.
    auto added = fwchain::test::Run({Bin("vendor-server"), "add-key", "--data", sys.vendor_dir(),
                                     "--role", "release", "--public", qa.PublicHex(), "--public",
                                     cto.PublicHex(), "--threshold", "2"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    EXPECT_NE(added.out.find("added outside release key " + qa.Id()), std::string::npos)
        << added.out;
    EXPECT_NE(added.out.find("added outside release key " + cto.Id()), std::string::npos)
        << added.out;
    EXPECT_EQ(added.out.find("new release key"), std::string::npos) << added.out;
    EXPECT_NE(added.out.find("release threshold 2 of 3 key(s)"), std::string::npos) << added.out;

    sys.Start();
    const std::string dev = sys.Provision("cam-t1");

    // publish holds one of the three keys: it stages, releases nothing, and says so.
    auto pub = sys.Publish("v1.0.0");
    EXPECT_EQ(pub.exit_code, 3) << pub.out << pub.err;
    EXPECT_NE(pub.out.find("1 of 2 release signatures, needs 1 more"), std::string::npos)
        << pub.out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(pub.out, m, std::regex("manifest (\\S+)"))) << pub.out;
    const std::string staged = m[1].str();
    EXPECT_TRUE(sys.Search("type=release").empty());
    auto early = fwchain::test::Run(
        {Bin("vendor-server"), "release-staged", "--data", sys.vendor_dir(), "--manifest", staged});
    EXPECT_EQ(early.exit_code, 1);
    EXPECT_NE(early.err.find("below-threshold"), std::string::npos) << early.err;
    EXPECT_NE(early.err.find("needs 1 more"), std::string::npos) << early.err;
    // Nothing reaches the device meanwhile.
    auto boot = sys.Boot(dev, sys.gateway_url());
    EXPECT_EQ(sys.Sequence(dev), 0u) << boot.out << boot.err;

    // The second key holder signs offline (only the manifest file and their key).
    auto sign = fwchain::test::Run({Bin("vendor-server"), "sign-release", "--manifest", staged,
                                    "--key", dir + "/qa-release.key", "--root",
                                    sys.vendor_dir() + "/metadata/root/2.json"});
    ASSERT_EQ(sign.exit_code, 0) << sign.err;
    EXPECT_NE(sign.out.find("2 signature(s) (threshold 2)"), std::string::npos) << sign.out;
    auto twice = fwchain::test::Run({Bin("vendor-server"), "sign-release", "--manifest", staged,
                                     "--key", dir + "/qa-release.key"});
    EXPECT_EQ(twice.exit_code, 1);
    EXPECT_NE(twice.err.find("already-signed"), std::string::npos) << twice.err;

    auto rel =
        fwchain::test::Run({Bin("vendor-server"), "release-staged", "--data", sys.vendor_dir(),
                            "--manifest", staged, "--ledger", sys.ledger_url()});
    ASSERT_EQ(rel.exit_code, 0) << rel.out << rel.err;
    EXPECT_NE(rel.out.find("released cam 1.0.0 sequence 1 with 2 signature(s)"), std::string::npos)
        << rel.out;

    ASSERT_TRUE(sys.BootUntil(dev, sys.gateway_url(), "1.0.0"));
    EXPECT_EQ(sys.Search("type=release&product=cam").size(), 1u);
}

}  // namespace
}  // namespace fwchain::test
