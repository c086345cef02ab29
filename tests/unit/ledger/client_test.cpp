// The LedgerClient seam: the in-process client over an embedded node and the HTTP client of the
// same node must tell every caller the same thing.
#include "ledger/client/client.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "fixture.hpp"
#include "ledger/net/local_client.hpp"
#include "ledger/net/node.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

class LedgerClientTest : public ::testing::TestWithParam<bool> {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 100);
        ASSERT_TRUE(WriteFileAtomic(dir_ / "genesis.json", genesis_.ToJson().dump()));
        ASSERT_TRUE(k_.miner.Save(dir_ / "miner.key"));
        NodeOptions o;
        o.data_dir = dir_ / "data";
        o.listen = "127.0.0.1:0";
        o.genesis_hash = ToHex(genesis_.Hash());
        o.genesis_file = dir_ / "genesis.json";
        o.mine = true;
        o.key_file = dir_ / "miner.key";
        o.http.workers = 2;
        auto node = Node::Open(o);
        ASSERT_TRUE(node) << node.error().ToString();
        node_ = std::move(*node);
        auto port = node_->Start();
        ASSERT_TRUE(port) << port.error().ToString();
        local_ = LocalLedgerClient(node_->chain(), node_->peers());
        auto remote = ConnectLedger("http://127.0.0.1:" + std::to_string(*port));
        ASSERT_TRUE(remote) << remote.error().ToString();
        remote_ = std::move(*remote);
    }
    void TearDown() override {
        if (node_) node_->Stop();
    }

    // The client under test, and the other one to compare with.
    LedgerClient& client() { return GetParam() ? *local_ : *remote_; }
    LedgerClient& other() { return GetParam() ? *remote_ : *local_; }

    std::uint64_t Confirmations(const std::string& id) {
        auto v = client().GetTx(id);
        return v && *v ? (*v)->confirmations : 0;
    }

    Keys k_;
    test::TempDir dir_;
    Block genesis_;
    std::unique_ptr<Node> node_;
    std::unique_ptr<LedgerClient> local_;
    std::unique_ptr<LedgerClient> remote_;
};

TEST_P(LedgerClientTest, SubmitsAndTellsDuplicatesStaleCountersAndRefusals) {
    const Tx admit = testing::AdmitTx(k_.admission, "dev-1", k_.device, "device");
    auto first = client().Submit(admit.ToJson());
    ASSERT_TRUE(first) << first.error().ToString();
    EXPECT_EQ(first->kind, SubmitResult::Kind::kAccepted);
    auto again = client().Submit(admit.ToJson());
    ASSERT_TRUE(again) << again.error().ToString();
    EXPECT_EQ(again->kind, SubmitResult::Kind::kDuplicate);
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(admit.Id()) >= 1; }));

    const Tx report = testing::UpdateTx(k_.device, "dev-1", 5);
    auto relayed = client().Submit(report.ToJson());
    ASSERT_TRUE(relayed) << relayed.error().ToString();
    EXPECT_EQ(relayed->kind, SubmitResult::Kind::kAccepted);
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(report.Id()) >= 1; }));
    // A report whose counter is not above the ledger's: the device must re-sign above it.
    auto stale = client().Submit(testing::UpdateTx(k_.device, "dev-1", 3, "failed").ToJson());
    ASSERT_TRUE(stale) << stale.error().ToString();
    EXPECT_EQ(stale->kind, SubmitResult::Kind::kStaleNonce);
    EXPECT_EQ(stale->last_nonce, 5u);

    // A key that is not admitted: refused for good, not a network error.
    auto refused = client().Submit(testing::UpdateTx(k_.outsider, "dev-9", 1).ToJson());
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::kUnauthorized) << refused.error().ToString();
    // Not a tx at all.
    auto malformed = client().Submit(Json{{"type", "update"}});
    ASSERT_FALSE(malformed);
    EXPECT_NE(malformed.error().code, Errc::kNetwork);
}

TEST_P(LedgerClientTest, ReadsTheSameChainAsTheOtherClient) {
    const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
    ASSERT_TRUE(client().Submit(release.ToJson()));
    ASSERT_TRUE(
        client().Submit(testing::AdmitTx(k_.admission, "dev-1", k_.device, "device").ToJson()));
    ASSERT_TRUE(test::WaitFor([&] { return Confirmations(release.Id()) >= 2; }));

    auto tx = client().GetTx(release.Id());
    ASSERT_TRUE(tx && *tx);
    auto tx2 = other().GetTx(release.Id());
    ASSERT_TRUE(tx2 && *tx2);
    EXPECT_EQ((*tx)->tx, release.ToJson());
    EXPECT_EQ((*tx)->height, (*tx2)->height);
    EXPECT_EQ((*tx)->block_hash, (*tx2)->block_hash);
    EXPECT_EQ((*tx)->proof, (*tx2)->proof);
    EXPECT_GE((*tx)->confirmations, 2u);
    auto missing = client().GetTx(std::string(64, 'a'));
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);
    auto not_an_id = client().GetTx("../v1/tip");
    ASSERT_TRUE(not_an_id);
    EXPECT_FALSE(*not_an_id);

    TxSearch q;
    q.type = txtype::kRelease;
    q.product = "cam";
    auto page = client().Search(q);
    ASSERT_TRUE(page) << page.error().ToString();
    ASSERT_EQ(page->results.size(), 1u);
    EXPECT_EQ(page->results[0].id, release.Id());
    EXPECT_EQ(page->results[0].height, (*tx)->height);
    EXPECT_EQ(page->results[0].block_hash, (*tx)->block_hash);
    // Paging: one result per page, the cursor leads to the next.
    q.type = "";
    q.limit = 1;
    auto p1 = client().Search(q);
    ASSERT_TRUE(p1 && p1->next_cursor);
    q.cursor = *p1->next_cursor;
    auto p2 = client().Search(q);
    ASSERT_TRUE(p2 && p2->results.size() == 1);
    EXPECT_NE(p1->results[0].id, p2->results[0].id);

    auto tip = client().Tip();
    ASSERT_TRUE(tip);
    auto headers = client().Headers(0, 5000);
    auto headers2 = other().Headers(0, 5000);
    ASSERT_TRUE(headers && headers2);
    ASSERT_GE(headers->size(), tip->height + 1);
    ASSERT_GE(headers2->size(), tip->height + 1);
    // (The miner may add a block between the two reads: compare what both saw.)
    for (std::size_t i = 0; i <= tip->height; ++i) {
        EXPECT_EQ((*headers)[i].height, i);
        EXPECT_EQ((*headers)[i].hash, (*headers2)[i].hash);
        EXPECT_EQ((*headers)[i].header, (*headers2)[i].header);
        EXPECT_EQ((*headers)[i].miner_sig, (*headers2)[i].miner_sig);
    }
    EXPECT_EQ((*headers)[0].hash, ToHex(genesis_.Hash()));

    auto keys = client().Registry("device");
    ASSERT_TRUE(keys);
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_EQ((*keys)[0].key, k_.device.PublicHex());
    EXPECT_EQ((*keys)[0].subject, "dev-1");
    EXPECT_FALSE((*keys)[0].revoked);

    auto rollouts = client().Rollouts("cam");
    auto rollouts2 = other().Rollouts("cam");
    ASSERT_TRUE(rollouts && rollouts2);
    ASSERT_TRUE((*rollouts)["releases"].is_array());
    EXPECT_EQ((*rollouts)["releases"].size(), 1u);
    EXPECT_EQ((*rollouts)["releases"][0]["tx"], (*rollouts2)["releases"][0]["tx"]);
    EXPECT_EQ((*rollouts)["releases"][0]["tx"], release.Id());
    EXPECT_FALSE(client().Rollouts("../x"));
}

TEST_P(LedgerClientTest, WaitForTipChangeReturnsOnANewBlockAndOnInterrupt) {
    auto tip = client().Tip();
    ASSERT_TRUE(tip);
    const std::uint64_t seen = TipToken(tip->hash);
    // A tx makes the miner mine a block; the wait ends with the new tip's token. (An hour-long
    // timeout: the test would hang, not pass, if only the timeout ended it.)
    std::thread submit([&] {
        ASSERT_TRUE(other().Submit(testing::ReleaseTx(k_.release, "cam", "2.0.0", 2).ToJson()));
    });
    std::uint64_t token = seen;
    while (token == seen) token = client().WaitForTipChange(seen, std::chrono::hours(1));
    submit.join();
    auto now = client().Tip();
    ASSERT_TRUE(now);
    EXPECT_GT(now->height, tip->height);

    // Interrupt() wakes a waiter although the tip stays put.
    const std::uint64_t current = client().WaitForTipChange(0, std::chrono::milliseconds(0));
    std::atomic<bool> woke{false};
    std::thread waiter([&] {
        client().WaitForTipChange(current, std::chrono::hours(1));
        woke = true;
    });
    ASSERT_TRUE(test::WaitFor([&] {
        client().Interrupt();
        return woke.load();
    }));
    waiter.join();
}

INSTANTIATE_TEST_SUITE_P(Both, LedgerClientTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                             return p.param ? "Local" : "Http";
                         });

}  // namespace
}  // namespace fwchain::ledger
