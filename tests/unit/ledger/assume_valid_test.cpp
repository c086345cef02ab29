// Fast joins (assume-valid): a fresh node syncs the blocks up to a checkpoint the vendor signed
// without checking their tx signatures, and everything after it with every check.
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "ledger/net/node.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

class AssumeValidTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000);
        ASSERT_TRUE(WriteFileAtomic(dir_ / "genesis.json", genesis_.ToJson().dump()));
        ASSERT_TRUE(k_.miner.Save(dir_ / "miner.key"));
        // The source: a mining node holding a chain of signed txs.
        NodeOptions o = Options("a");
        o.mine = true;
        o.key_file = dir_ / "miner.key";
        a_ = Start(o, &a_url_);
        auto& chain = a_->chain();
        for (int i = 0; i < 6; ++i) {
            const std::string id = "dev-" + std::to_string(i);
            devices_.push_back(SigningKey::Generate());
            ASSERT_TRUE(
                chain.SubmitTx(testing::AdmitTx(k_.admission, id, devices_.back(), "device")));
            ASSERT_TRUE(chain.SubmitTx(testing::ReleaseTx(
                k_.release, "cam", "1.0." + std::to_string(i), static_cast<std::uint64_t>(i + 1))));
            const std::uint64_t target = static_cast<std::uint64_t>(i) + 1;
            ASSERT_TRUE(test::WaitFor([&] {
                auto tip = chain.Tip();
                return tip && tip->height >= target && chain.MempoolSize() == 0;
            }));
        }
        ASSERT_TRUE(test::WaitFor([&] { return !*chain.NeedsMining(); }));
    }
    void TearDown() override {
        if (b_) b_->Stop();
        if (a_) a_->Stop();
    }

    NodeOptions Options(const std::string& name) {
        NodeOptions o;
        o.data_dir = dir_ / name;
        o.listen = "127.0.0.1:0";
        o.genesis_hash = ToHex(genesis_.Hash());
        o.genesis_file = dir_ / "genesis.json";
        o.http.workers = 2;
        o.sync_interval_ms = 100;
        return o;
    }
    std::unique_ptr<Node> Start(const NodeOptions& o, std::string* url) {
        auto node = Node::Open(o);
        EXPECT_TRUE(node) << node.error().ToString();
        if (!node) return nullptr;
        auto port = (*node)->Start();
        EXPECT_TRUE(port) << port.error().ToString();
        if (url != nullptr && port) *url = "http://127.0.0.1:" + std::to_string(*port);
        return std::move(*node);
    }
    // Starts the fresh node `b` against `a` and waits until it holds a's tip.
    void Join(std::optional<AssumeValidPoint> av) {
        NodeOptions o = Options("b");
        o.peers = {a_url_};
        o.assume_valid = av;
        b_ = Start(o, nullptr);
        ASSERT_TRUE(b_);
        auto tip = a_->chain().Tip();
        ASSERT_TRUE(tip);
        ASSERT_TRUE(test::WaitFor([&] {
            auto t = b_->chain().Tip();
            return t && t->hash == tip->hash;
        }));
    }
    AssumeValidPoint PointAt(std::uint64_t height) {
        auto b = a_->chain().Headers(height, 1);
        EXPECT_TRUE(b && b->size() == 1);
        return AssumeValidPoint{height, (*b)[0].hash};
    }

    Keys k_;
    test::TempDir dir_;
    Block genesis_;
    std::vector<SigningKey> devices_;
    std::unique_ptr<Node> a_;
    std::unique_ptr<Node> b_;
    std::string a_url_;
};

TEST_F(AssumeValidTest, BlocksUpToTheCheckpointSkipSignaturesAndTheRestAreChecked) {
    const std::uint64_t tip = a_->chain().Tip()->height;
    ASSERT_GE(tip, 6u);
    const std::uint64_t checkpoint = tip - 2;
    Join(PointAt(checkpoint));
    // Exactly the blocks 1..checkpoint were assumed; the ones above were checked in full.
    EXPECT_EQ(b_->peers()->AssumedBlocks(), checkpoint);
    // The state they carry is all there: the registry and every release.
    auto keys = b_->chain().Registry("device");
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->size(), devices_.size());
    SearchQuery q;
    q.product = "cam";
    q.type = "release";
    auto releases = b_->chain().Search(q);
    ASSERT_TRUE(releases);
    EXPECT_EQ(releases->results.size(), devices_.size());
}

TEST_F(AssumeValidTest, ACheckpointThePeerDoesNotHaveMeansAFullCheck) {
    AssumeValidPoint wrong = PointAt(3);
    wrong.hash[0] ^= 0xff;  // not the peer's block at that height
    Join(wrong);
    EXPECT_EQ(b_->peers()->AssumedBlocks(), 0u);
}

TEST_F(AssumeValidTest, WithoutACheckpointEveryBlockIsChecked) {
    Join(std::nullopt);
    EXPECT_EQ(b_->peers()->AssumedBlocks(), 0u);
}

TEST(AssumeValidParse, HeightColonHash) {
    const std::string hash(64, 'a');
    auto p = ParseAssumeValid("12:" + hash);
    ASSERT_TRUE(p) << p.error().ToString();
    EXPECT_EQ(p->height, 12u);
    EXPECT_EQ(ToHex(p->hash), hash);
    for (const std::string& bad :
         std::vector<std::string>{"", "12", ":" + hash, "0:" + hash, "x:" + hash, "12:abc",
                                  "12:" + hash + "00", "-1:" + hash, "12 :" + hash}) {
        EXPECT_FALSE(ParseAssumeValid(bad)) << bad;
    }
}

}  // namespace
}  // namespace fwchain::ledger
