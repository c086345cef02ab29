// The compact chain store (docs/architecture.md "The chain store"): txs rebuilt bit for bit from
// their stored form, a store of the schema before compact storage migrated and answering the
// same, the per-block undo record, and a crash in the middle of a batch of blocks.
#include "ledger/chain/store.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <limits>
#include <set>

#include "common/adapters/sqlite.hpp"
#include "fixture.hpp"
#include "ledger/chain/chain.hpp"
#include "ledger/chain/tx_codec.hpp"
#include "open_chain.hpp"
#include "tests/support/temp_dir.hpp"

namespace fwchain::ledger {
namespace {

using testing::Keys;

using testing::OpenChain;

void ExpectSameText(const Tx& tx) {
    const std::string data = PackTxData(tx);
    auto back = UnpackTx(tx.type, tx.recipient, tx.ver, tx.state, tx.time, data);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->CanonicalText(), tx.CanonicalText());
    EXPECT_EQ(back->CanonicalText(false), tx.CanonicalText(false));
    EXPECT_EQ(back->Id(), tx.Id());
    EXPECT_EQ(back->SignatureValid(), tx.SignatureValid());
    auto body = UnpackBodyText(data);
    ASSERT_TRUE(body);
    EXPECT_EQ(*body, Canonical(tx.body));
}

// Every tx type the chain knows, signed as the programs sign them.
std::vector<Tx> EveryTxType(const Keys& k, const Block& genesis) {
    std::vector<Tx> txs;
    txs.push_back(genesis.txs[0]);
    txs.push_back(testing::AdmitTx(k.admission, k.device.Id(), k.device, "device"));
    txs.push_back(testing::AdmitTx(k.admission, "gw-1", k.gateway, "gateway", ""));
    txs.push_back(testing::RevokeTx(k.admission, k.device.Id(), k.device, "device"));
    const Tx release = testing::ReleaseTx(k.release, "cam", "1.2.3", 7);
    txs.push_back(release);
    txs.push_back(testing::ApproveTx(k.approver, release.Id()));
    txs.push_back(testing::RolloutTx(k.release, release.Id(), "pause"));
    txs.push_back(testing::UpdateTx(k.device, k.device.Id(), 1));
    Tx failed = testing::UpdateTx(k.device, k.device.Id(), 2, "failed", "1.2.3");
    failed.body = UpdateTxBody{"cam",
                               8,
                               7,
                               k.gateway.Id(),
                               "bad signature",
                               RejectedManifest{"1.2.4", Sha256Hex("m"), 8}}
                      .ToJson();
    txs.push_back(testing::Signed(failed, k.device));
    Tx status = testing::UpdateTx(k.device, k.device.Id(), 3, "up-to-date");
    status.type = txtype::kStatus;
    txs.push_back(testing::Signed(status, k.device));
    Tx root;
    root.type = "root";
    root.recipient = "acme";
    root.time = 5;
    root.nonce = 9;
    root.body = Json{{"root", testing::MakeRootEnvelope(k, 1000).ToJson()}};
    txs.push_back(testing::Signed(root, k.root));
    return txs;
}

TEST(TxCodecTest, EveryTxTypeIsRebuiltBitForBit) {
    Keys k;
    const Block genesis = testing::MakeTestGenesis(k, NowSeconds());
    for (const Tx& tx : EveryTxType(k, genesis)) {
        SCOPED_TRACE(tx.type);
        ExpectSameText(tx);
    }
}

TEST(TxCodecTest, AwkwardStringsAndNumbersSurvive) {
    Keys k;
    Tx tx;
    tx.type = "update";
    tx.recipient = "ABCDEF0123";  // upper-case hex stays text
    tx.ver = "10";                // even-length lower-case hex: stored as one byte
    tx.verifier = "";
    tx.state = "é \"quoted\" \\ \u0001";
    tx.time = -42;
    tx.nonce = std::numeric_limits<std::uint64_t>::max();
    tx.body = Json{{"odd", "abc"},
                   {"upper", "ABCD"},
                   {"mixed", "aBcd"},
                   {"empty", ""},
                   {"zero", "00"},
                   {"hexes", Json::array({"00ff", "0", "deadbeef", Json::array({"ab"})})},
                   {"neg", -9223372036854775807LL - 1},
                   {"big", std::numeric_limits<std::uint64_t>::max()},
                   {"flag", true},
                   {"none", nullptr},
                   {"nested", Json{{"k", Json::object()}, {"a", Json::array()}}},
                   // Keys that look like the blob's key codes, and coded keys nested.
                   {std::string(1, '\x01'), 1},
                   {std::string("\x00x", 2), 2},
                   {std::string(1, '\x1f'), 3},
                   {"", "empty key"},
                   {"sequence", Json{{"gateway", Json::array({Json{{"role", "ab"}}})}}}};
    tx.SignWith(k.device);
    ExpectSameText(tx);
    tx.sender = std::string(tx.sender.begin(), tx.sender.end());
    for (auto& c : tx.sender) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ExpectSameText(tx);  // an upper-case sender (the wire allows it) is kept as it was
    // A float cannot come from a parsed tx, but the blob keeps it exactly anyway (as text).
    tx.body = Json{{"f", 1.5}};
    ExpectSameText(tx);
}

TEST(TxCodecTest, CorruptBlobsAreErrors) {
    EXPECT_FALSE(UnpackTx("update", "d", "", "", 0, "garbage"));
    EXPECT_FALSE(UnpackTx("update", "d", "", "", 0, ""));
    EXPECT_FALSE(UnpackBodyText("\x93\x01\x02\x03"));
}

class StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000);
        chain_ = OpenChain(dir_ / "a.sqlite", genesis_);
        ASSERT_TRUE(chain_);
        blocks_.push_back(EncodedBlock::Encode(genesis_));
    }

    BlockInfo Mine(const std::vector<Tx>& txs) {
        for (const Tx& tx : txs) {
            auto id = chain_->SubmitTx(tx);
            EXPECT_TRUE(id) << tx.type << ": " << id.error().ToString();
        }
        auto templ = chain_->BuildTemplate(k_.miner.Public(), NowSeconds());
        EXPECT_TRUE(templ);
        Block b = *templ;
        b.message = "block " + std::to_string(b.header.height) + " \"é\"";
        testing::SolveAndSign(b, k_.miner);
        auto connected = chain_->SubmitBlock(b, NowSeconds());
        EXPECT_TRUE(connected) << connected.error().ToString();
        blocks_.push_back(EncodedBlock::Encode(b));
        return connected ? *connected : BlockInfo{};
    }

    // A chain with every tx type the mempool takes, hex and non-hex device ids.
    void MineEveryType() {
        const std::string dev = k_.device.Id();
        Mine({testing::AdmitTx(k_.admission, dev, k_.device, "device"),
              testing::AdmitTx(k_.admission, "dev-2", k_.device2, "device"),
              testing::AdmitTx(k_.admission, "gw-1", k_.gateway, "gateway", "")});
        const Tx release = testing::ReleaseTx(k_.release, "cam", "1.0.0", 1);
        release_id_ = release.Id();
        Mine({release});
        Mine({testing::ApproveTx(k_.approver, release_id_), testing::UpdateTx(k_.device, dev, 1),
              testing::UpdateTx(k_.device2, "dev-2", 1, "failed")});
        Tx status = testing::UpdateTx(k_.device, dev, 2, "up-to-date");
        status.type = txtype::kStatus;
        Mine({testing::Signed(status, k_.device),
              testing::RolloutTx(k_.release, release_id_, "pause")});
    }

    Keys k_;
    test::TempDir dir_;
    Block genesis_;
    std::unique_ptr<Chain> chain_;
    std::vector<EncodedBlock> blocks_;  // the main chain as mined, genesis first
    std::string release_id_;
};

TEST_F(StoreTest, BlocksAndTxsAreServedAsTheyWereSigned) {
    MineEveryType();
    for (int pass = 0; pass < 2; ++pass) {
        SCOPED_TRACE(pass == 0 ? "live" : "reopened");
        for (const EncodedBlock& e : blocks_) {
            const Block& b = e.block();
            auto at = chain_->BlockJsonAtHeight(b.header.height);
            ASSERT_TRUE(at && *at) << b.header.height;
            EXPECT_EQ(**at, e.text());
            auto by_hash = chain_->BlockJson(ToHex(b.Hash()));
            ASSERT_TRUE(by_hash && *by_hash);
            EXPECT_EQ(**by_hash, e.text());
            for (std::size_t i = 0; i < b.txs.size(); ++i) {
                auto st = chain_->GetTx(e.tx_ids()[i]);
                ASSERT_TRUE(st && *st);
                EXPECT_EQ(Canonical((*st)->tx), e.tx_texts()[i]);
                EXPECT_EQ((*st)->height, b.header.height);
            }
        }
        chain_.reset();
        chain_ = OpenChain(dir_ / "a.sqlite", genesis_);
        ASSERT_TRUE(chain_);
    }
    // An id in upper case or of the wrong size finds nothing (ids are lower-case hex).
    std::string upper = blocks_[1].tx_ids()[0];
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto none = chain_->GetTx(upper);
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
}

TEST_F(StoreTest, TheSetAtATimeReadsAnswerAsTheOneAtATimeReads) {
    MineEveryType();
    chain_.reset();
    auto store = ChainStore::Open(dir_ / "a.sqlite");
    ASSERT_TRUE(store);
    // More than one IN chunk (64), registry keys and strangers, a repeat and a non-hex string.
    std::vector<std::string> keys = {k_.device.PublicHex(),
                                     k_.device2.PublicHex(),
                                     k_.gateway.PublicHex(),
                                     k_.miner.PublicHex(),
                                     k_.outsider.PublicHex(),
                                     k_.device.PublicHex(),
                                     "not a key"};
    for (int i = 0; i < 150; ++i) keys.push_back(SigningKey::Generate().PublicHex());
    auto found = (*store)->FindKeys(keys);
    ASSERT_TRUE(found) << found.error().ToString();
    std::set<std::string> distinct(keys.begin(), keys.end());
    ASSERT_EQ(found->size(), distinct.size());
    std::size_t admitted = 0;
    for (const auto& [key, rec] : *found) {
        auto one = (*store)->FindKey(key);
        ASSERT_TRUE(one);
        ASSERT_EQ(one->has_value(), rec.has_value()) << key;
        if (rec) {
            ++admitted;
            EXPECT_EQ((*one)->subject, rec->subject);
            EXPECT_EQ((*one)->role, rec->role);
            EXPECT_EQ((*one)->last_nonce, rec->last_nonce);
        }
    }
    EXPECT_EQ(admitted, 4u);  // two devices, the gateway, the genesis miner

    std::vector<std::string> ids;
    for (const EncodedBlock& e : blocks_) {
        for (const auto& id : e.tx_ids()) ids.push_back(id);
    }
    const std::size_t on_chain = ids.size();
    for (int i = 0; i < 150; ++i) ids.push_back(Sha256Hex("not a tx " + std::to_string(i)));
    std::string upper = ids[1];
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ids.push_back(upper);
    ids.push_back("abc");
    auto present = (*store)->ExistingTxs(ids);
    ASSERT_TRUE(present) << present.error().ToString();
    EXPECT_EQ(present->size(), on_chain);
    for (const auto& id : ids) {
        auto one = (*store)->HasTx(id);
        ASSERT_TRUE(one);
        EXPECT_EQ(*one, present->count(id) == 1) << id;
    }
}

TEST_F(StoreTest, DeviceReportsKeepTheirSenderAndImageHashByReference) {
    MineEveryType();
    chain_.reset();
    {
        auto db = sql::Db::Open(dir_ / "a.sqlite");
        ASSERT_TRUE(db);
        // Every device report (update and status): its sender is its registry row, its image
        // hash a `verifiers` row, and neither is in its blob.
        auto q = db->Prepare(
            "SELECT (SELECT key FROM keys WHERE keys.rowid = sender_ref), "
            "(SELECT hash FROM verifiers WHERE ref = verifier_ref), data FROM txs "
            "WHERE type IN ('update', 'status')");
        ASSERT_TRUE(q);
        int reports = 0;
        while (true) {
            auto row = q->Step();
            ASSERT_TRUE(row);
            if (!*row) break;
            ++reports;
            ASSERT_FALSE(q->IsNull(0));
            ASSERT_FALSE(q->IsNull(1));
            const std::string sender = q->Text(0);
            EXPECT_TRUE(sender == k_.device.PublicHex() || sender == k_.device2.PublicHex());
            const std::string data = q->Blob(2);
            const std::string sender_bytes(reinterpret_cast<const char*>(FromHex(sender)->data()),
                                           32);
            EXPECT_EQ(data.find(sender_bytes), std::string::npos);
            EXPECT_EQ(data.find(q->Blob(1)), std::string::npos);
        }
        EXPECT_EQ(reports, 3);
        // One row per distinct image hash (the fixture's reports all name "image 1.0.0").
        auto n = db->Prepare("SELECT COUNT(*) FROM verifiers");
        ASSERT_TRUE(n && *n->Step());
        EXPECT_EQ(n->Int(0), 1);
        // A reference to no row is a corrupt row, not a different tx.
        ASSERT_TRUE(db->Exec("UPDATE txs SET verifier_ref = 999 WHERE type = 'status'"));
    }
    auto store = ChainStore::Open(dir_ / "a.sqlite");
    ASSERT_TRUE(store);
    const EncodedBlock& last = blocks_.back();
    for (std::size_t i = 0; i < last.block().txs.size(); ++i) {
        auto found = (*store)->FindTx(last.tx_ids()[i]);
        if (last.block().txs[i].type == txtype::kStatus) {
            ASSERT_FALSE(found);
            EXPECT_EQ(found.error().reason, "corrupt-tx");
        } else {
            ASSERT_TRUE(found && *found);
        }
    }
}

TEST_F(StoreTest, ARolledBackBlockLeavesNoStaleImageReference) {
    // The store remembers recent image-hash rows; a write that rolls back must not leave one
    // behind that a later hash then takes.
    const std::string dev = k_.device.Id();
    Mine({testing::AdmitTx(k_.admission, dev, k_.device, "device")});
    chain_.reset();
    auto store = ChainStore::Open(dir_ / "a.sqlite");
    ASSERT_TRUE(store);
    testing::MapView view(ParseRoot(testing::MakeRootEnvelope(k_, NowSeconds())).value());
    StateOverlay none(view);
    auto tip = (*store)->Tip();
    ASSERT_TRUE(tip && *tip);
    auto block = [&](std::uint64_t height, const Hash256& prev, std::uint64_t nonce,
                     const std::string& ver) {
        Block b;
        b.header.height = height;
        b.header.prev_hash = prev;
        b.header.timestamp = NowSeconds();
        b.txs = {testing::UpdateTx(k_.device, dev, nonce, "installed", ver)};
        b.header.merkle_root = MerkleRootOfTxs(b.txs);
        return EncodedBlock::Encode(b);
    };
    const EncodedBlock x = block(2, (*tip)->hash, 10, "9.9.9");
    auto rolled = (*store)->Transaction([&]() -> Status {
        FW_TRY((*store)->ConnectInTransaction(x, none, 1));
        return Fail(Errc::kInternal, "test-rollback", "rolled back on purpose");
    });
    ASSERT_FALSE(rolled);
    const EncodedBlock y = block(2, (*tip)->hash, 11, "8.8.8");
    ASSERT_TRUE((*store)->ConnectBlock(y, none, 2));
    const EncodedBlock x2 = block(3, y.Hash(), 12, "9.9.9");
    ASSERT_TRUE((*store)->ConnectBlock(x2, none, 3));
    for (const EncodedBlock* e : {&y, &x2}) {
        auto found = (*store)->FindTx(e->tx_ids()[0]);
        ASSERT_TRUE(found && *found) << (found ? "missing" : found.error().ToString());
        EXPECT_EQ(Canonical((*found)->tx), e->tx_texts()[0]);
    }
}

TEST_F(StoreTest, AnIdSharingOnlyItsFirstBytesWithAStoredTxIsNotFound) {
    // Ids are found by an index on their first 8 bytes; the whole id must still match.
    MineEveryType();
    chain_.reset();
    const std::string wanted = Sha256Hex("a tx this chain does not hold");
    Bytes twin = *FromHex(wanted);
    std::fill(twin.begin() + 8, twin.end(), 0);
    {
        auto db = sql::Db::Open(dir_ / "a.sqlite");
        ASSERT_TRUE(db);
        auto copy = db->Prepare(
            "INSERT INTO txs(pos, id, type, recipient, product, ver, state, time, data) "
            "SELECT (1000 << 12), ?, type, recipient, product, ver, state, time, data FROM txs "
            "WHERE type = 'release'");
        ASSERT_TRUE(copy);
        copy->BindBlob(1, twin.data(), twin.size());
        ASSERT_TRUE(copy->Run());
        EXPECT_EQ(db->Changes(), 1);
    }
    auto store = ChainStore::Open(dir_ / "a.sqlite");
    ASSERT_TRUE(store);
    auto has = (*store)->HasTx(wanted);
    ASSERT_TRUE(has);
    EXPECT_FALSE(*has);
    auto found = (*store)->FindTx(wanted);
    ASSERT_TRUE(found);
    EXPECT_FALSE(*found);
    auto existing = (*store)->ExistingTxs({wanted, ToHex(twin), blocks_[1].tx_ids()[0]});
    ASSERT_TRUE(existing);
    EXPECT_EQ(*existing, (std::set<std::string>{ToHex(twin), blocks_[1].tx_ids()[0]}));
}

TEST_F(StoreTest, UndoRecordsBelowTheFinalityDepthAreDroppedAndNeverUsed) {
    ChainParams params = testing::TestParams();
    params.finality_depth = 4;
    genesis_ = testing::MakeTestGenesis(k_, NowSeconds() - 1000, params);
    chain_ = OpenChain(dir_ / "u.sqlite", genesis_);
    ASSERT_TRUE(chain_);
    const std::string dev = k_.device.Id();
    Mine({testing::AdmitTx(k_.admission, dev, k_.device, "device")});
    for (std::uint64_t n = 1; n <= 10; ++n) Mine({testing::UpdateTx(k_.device, dev, n)});
    chain_.reset();  // tip 11: undo kept for 7..11 (finality_depth + 1 blocks)
    {
        auto db = sql::Db::Open(dir_ / "u.sqlite");
        ASSERT_TRUE(db);
        auto q = db->Prepare("SELECT MIN(height), COUNT(*) FROM blocks WHERE undo IS NOT NULL");
        ASSERT_TRUE(q && *q->Step());
        EXPECT_EQ(q->Int(0), 7);
        EXPECT_EQ(q->Int(1), 5);
    }
    auto store = ChainStore::Open(dir_ / "u.sqlite");
    ASSERT_TRUE(store);
    auto st = (*store)->Transaction([&]() -> Status {
        for (int i = 0; i < 5; ++i) {
            FW_ASSIGN(Block gone, (*store)->DisconnectTip());
            EXPECT_EQ(gone.header.height, 11u - static_cast<std::uint64_t>(i));
        }
        auto nonce = (*store)->FindKey(k_.device.PublicHex());
        EXPECT_TRUE(nonce && *nonce && (*nonce)->last_nonce == 5u);
        // Block 6 has no undo record left: disconnecting it is refused, not done wrongly.
        auto too_deep = (*store)->DisconnectTip();
        EXPECT_FALSE(too_deep);
        if (!too_deep) {
            EXPECT_EQ(too_deep.error().reason, "undo-trimmed");
        }
        return Fail(Errc::kInternal, "test-rollback", "leave the store as it was");
    });
    EXPECT_FALSE(st);
}

TEST_F(StoreTest, ADisconnectRestoresTheRegistryFromTheBlocksUndoRecord) {
    const std::string dev = k_.device.Id();
    Mine({testing::AdmitTx(k_.admission, dev, k_.device, "device"),
          testing::AdmitTx(k_.admission, "dev-2", k_.device2, "device")});
    Mine({testing::UpdateTx(k_.device, dev, 5)});
    // One block: a new key, a nonce, a revocation.
    const BlockInfo top = Mine({testing::AdmitTx(k_.admission, "gw-1", k_.gateway, "gateway", ""),
                                testing::UpdateTx(k_.device, dev, 6),
                                testing::RevokeTx(k_.admission, "dev-2", k_.device2, "device")});
    chain_.reset();
    auto store = ChainStore::Open(dir_ / "a.sqlite");
    ASSERT_TRUE(store);
    {
        // One record in the block's row; no per-key undo rows.
        auto db = sql::Db::Open(dir_ / "a.sqlite");
        ASSERT_TRUE(db);
        auto q = db->Prepare(
            "SELECT (SELECT COUNT(*) FROM undo), undo IS NOT NULL FROM blocks "
            "WHERE hash = ?");
        ASSERT_TRUE(q);
        q->Bind(1, ToHex(top.hash));
        auto row = q->Step();
        ASSERT_TRUE(row && *row);
        EXPECT_EQ(q->Int(0), 0);
        EXPECT_EQ(q->Int(1), 1);
    }
    ASSERT_TRUE((*store)->Transaction([&]() -> Status {
        FW_ASSIGN(Block b, (*store)->DisconnectTip());
        EXPECT_EQ(b.Hash(), top.hash);
        return {};
    }));
    auto gw = (*store)->FindKey(k_.gateway.PublicHex());
    ASSERT_TRUE(gw);
    EXPECT_FALSE(*gw);
    auto d1 = (*store)->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(d1 && *d1);
    EXPECT_EQ((*d1)->last_nonce, 5u);
    auto d2 = (*store)->FindKey(k_.device2.PublicHex());
    ASSERT_TRUE(d2 && *d2);
    EXPECT_FALSE((*d2)->revoked);
    EXPECT_EQ((*d2)->revoked_height, 0u);
    // The disconnected block is a side block now, with its JSON kept whole.
    auto json = (*store)->BlockJson(ToHex(top.hash));
    ASSERT_TRUE(json && *json);
    EXPECT_EQ(**json, blocks_.back().text());
    auto tip = (*store)->Tip();
    ASSERT_TRUE(tip && *tip);
    EXPECT_EQ((*tip)->height, 2u);
    auto ids = (*store)->BlockTxIds(3);
    ASSERT_TRUE(ids);
    EXPECT_TRUE(ids->empty());
}

// Writes the main chain `src` holds the way the store did before compact storage
// (kSchemaBeforeCompact): block and tx JSON texts, 64-hex keys, one undo row per changed key
// (`undo_rows` for the tip block).
void WriteLegacyStore(const std::string& path, ChainStore& src,
                      const std::vector<EncodedBlock>& blocks,
                      const std::vector<std::pair<std::string, std::optional<Json>>>& undo_rows,
                      const std::string& src_path) {
    auto db = sql::Db::Open(path);
    ASSERT_TRUE(db);
    const auto& all = StoreMigrations();
    ASSERT_TRUE(db->Migrate(std::vector<std::string>(
        all.begin(), all.begin() + static_cast<std::ptrdiff_t>(kSchemaBeforeCompact))));
    auto from = sql::Db::Open(src_path);
    ASSERT_TRUE(from);
    ASSERT_TRUE(db->WriteTransaction([&]() -> Status {
        for (const EncodedBlock& e : blocks) {
            const Block& b = e.block();
            FW_ASSIGN(auto info, src.BlockByHash(ToHex(b.Hash())));
            EXPECT_TRUE(info);
            const auto header = b.header.Serialize();
            FW_ASSIGN(sql::Stmt s, db->Prepare("INSERT INTO blocks(hash, height, prev, header, "
                                               "time, bits, work, json, main, miner_sig) "
                                               "VALUES(?,?,?,?,?,?,?,?,1,?)"));
            s.Bind(1, ToHex(b.Hash()))
                .Bind(2, static_cast<std::int64_t>(b.header.height))
                .Bind(3, ToHex(b.header.prev_hash))
                .BindBlob(4, header.data(), header.size())
                .Bind(5, b.header.timestamp)
                .Bind(6, static_cast<std::int64_t>(b.header.bits))
                .Bind(7, WorkToHex(info->work))
                .Bind(8, e.text())
                .Bind(9, ToHex(b.miner_sig));
            FW_TRY(s.Run());
            for (std::size_t i = 0; i < b.txs.size(); ++i) {
                const Tx& tx = b.txs[i];
                FW_ASSIGN(sql::Stmt p, from->Prepare("SELECT product FROM txs WHERE pos = ?"));
                p.Bind(1, static_cast<std::int64_t>((b.header.height << 12) | i));
                FW_ASSIGN(bool row, p.Step());
                EXPECT_TRUE(row);
                FW_ASSIGN(sql::Stmt t,
                          db->Prepare("INSERT INTO txs(id, block_hash, height, idx, type, sender, "
                                      "recipient, product, ver, verifier, state, time, nonce, "
                                      "json) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
                t.Bind(1, e.tx_ids()[i])
                    .Bind(2, ToHex(b.Hash()))
                    .Bind(3, static_cast<std::int64_t>(b.header.height))
                    .Bind(4, static_cast<std::int64_t>(i))
                    .Bind(5, tx.type)
                    .Bind(6, tx.sender)
                    .Bind(7, tx.recipient)
                    .Bind(8, p.Text(0))
                    .Bind(9, tx.ver)
                    .Bind(10, tx.verifier)
                    .Bind(11, tx.state)
                    .Bind(12, tx.time)
                    .Bind(13, static_cast<std::int64_t>(tx.nonce))
                    .Bind(14, e.tx_texts()[i]);
                FW_TRY(t.Run());
            }
        }
        // The registry and claims tables have the same form in both schemas (this chain has
        // no root txs).
        FW_ASSIGN(sql::Stmt k, from->Prepare("SELECT key, id, subject, role, product, height, "
                                             "revoked, revoked_height, last_nonce FROM keys"));
        while (true) {
            FW_ASSIGN(bool row, k.Step());
            if (!row) break;
            FW_ASSIGN(sql::Stmt ins, db->Prepare("INSERT INTO keys(key, id, subject, role, "
                                                 "product, height, revoked, revoked_height, "
                                                 "last_nonce) VALUES(?,?,?,?,?,?,?,?,?)"));
            for (int c = 0; c < 9; ++c) {
                if (k.IsNull(c)) {
                    ins.BindNull(c + 1);
                } else if (c == 5 || c == 6 || c == 7 || c == 8) {
                    ins.Bind(c + 1, k.Int(c));
                } else {
                    ins.Bind(c + 1, k.Text(c));
                }
            }
            FW_TRY(ins.Run());
        }
        FW_ASSIGN(sql::Stmt c, from->Prepare("SELECT claim, tx_id, height FROM claims"));
        while (true) {
            FW_ASSIGN(bool row, c.Step());
            if (!row) break;
            FW_ASSIGN(sql::Stmt ins,
                      db->Prepare("INSERT INTO claims(claim, tx_id, height) VALUES(?,?,?)"));
            ins.Bind(1, c.Text(0)).Bind(2, c.Text(1)).Bind(3, c.Int(2));
            FW_TRY(ins.Run());
        }
        const std::string tip = ToHex(blocks.back().Hash());
        for (const auto& [key, prev] : undo_rows) {
            FW_ASSIGN(sql::Stmt u,
                      db->Prepare("INSERT INTO undo(block_hash, key, prev) VALUES(?,?,?)"));
            u.Bind(1, tip).Bind(2, key);
            if (prev) {
                u.Bind(3, Canonical(*prev));
            } else {
                u.BindNull(3);
            }
            FW_TRY(u.Run());
        }
        FW_ASSIGN(sql::Stmt m, db->Prepare("INSERT INTO meta(k, v) VALUES('genesis', ?), "
                                           "('tip', ?)"));
        m.Bind(1, ToHex(blocks.front().Hash())).Bind(2, tip);
        return m.Run();
    }));
}

Json LegacyKeyJson(const KeyRecord& k) {
    Json j{{"key", k.key},
           {"subject", k.subject},
           {"role", k.role},
           {"product", k.product},
           {"height", k.height},
           {"revoked", k.revoked},
           {"revoked_height", k.revoked_height}};
    j["last_nonce"] = k.last_nonce ? Json(*k.last_nonce) : Json(nullptr);
    return j;
}

std::string Dump(const std::vector<KeyRecord>& keys) {
    std::string out;
    for (const auto& k : keys) out += Canonical(LegacyKeyJson(k)) + "\n";
    return out;
}

TEST_F(StoreTest, AStoreOfTheOldSchemaIsMigratedAndAnswersTheSame) {
    MineEveryType();
    // The tip block changes a nonce and admits a key: its legacy undo rows say so.
    auto before = chain_->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(before && *before);
    Mine({testing::UpdateTx(k_.device, k_.device.Id(), 3, "installed", "1.0.0"),
          testing::AdmitTx(k_.admission, "dev-3", k_.outsider, "device")});
    chain_.reset();
    const std::vector<std::pair<std::string, std::optional<Json>>> undo_rows = {
        {k_.device.PublicHex(), LegacyKeyJson(**before)}, {k_.outsider.PublicHex(), std::nullopt}};

    auto a = ChainStore::Open(dir_ / "a.sqlite");
    ASSERT_TRUE(a);
    WriteLegacyStore(dir_ / "b.sqlite", **a, blocks_, undo_rows, dir_ / "a.sqlite");
    auto b = ChainStore::Open(dir_ / "b.sqlite");  // migrates
    ASSERT_TRUE(b) << b.error().ToString();
    {
        auto db = sql::Db::Open(dir_ / "b.sqlite");
        ASSERT_TRUE(db);
        auto q = db->Prepare("PRAGMA user_version");
        ASSERT_TRUE(q);
        auto row = q->Step();
        ASSERT_TRUE(row && *row);
        EXPECT_EQ(static_cast<std::size_t>(q->Int(0)), StoreMigrations().size());
    }
    ChainStore& x = **a;
    ChainStore& y = **b;
#define same(l, r)  \
    ASSERT_TRUE(l); \
    ASSERT_TRUE(r)
    for (const EncodedBlock& e : blocks_) {
        const std::uint64_t h = e.block().header.height;
        auto jx = x.BlockJsonAtHeight(h);
        auto jy = y.BlockJsonAtHeight(h);
        same(jx, jy);
        ASSERT_TRUE(*jy);
        EXPECT_EQ(**jy, e.text());
        EXPECT_EQ(**jx, **jy);
        auto ix = x.BlockAtHeight(h);
        auto iy = y.BlockAtHeight(h);
        same(ix, iy);
        EXPECT_EQ((*ix)->work, (*iy)->work);
        EXPECT_EQ((*ix)->miner_sig, (*iy)->miner_sig);
        for (const std::string& id : e.tx_ids()) {
            auto tx = x.FindTx(id);
            auto ty = y.FindTx(id);
            same(tx, ty);
            ASSERT_TRUE(*ty);
            EXPECT_EQ(Canonical((*tx)->tx), Canonical((*ty)->tx));
            EXPECT_EQ((*tx)->block_hash, (*ty)->block_hash);
            EXPECT_EQ((*tx)->index, (*ty)->index);
        }
    }
    for (const std::string& device : {k_.device.Id(), std::string("dev-2")}) {
        SearchQuery q;
        q.device = device;
        auto sx = x.Search(q);
        auto sy = y.Search(q);
        same(sx, sy);
        ASSERT_EQ(sx->results.size(), sy->results.size());
        EXPECT_FALSE(sy->results.empty());
        for (std::size_t i = 0; i < sx->results.size(); ++i) {
            EXPECT_EQ(sx->results[i].id, sy->results[i].id);
        }
    }
    auto fx = x.FleetStatus("cam", 10, "");
    auto fy = y.FleetStatus("cam", 10, "");
    same(fx, fy);
    EXPECT_EQ(fx->versions, fy->versions);
    EXPECT_EQ(fx->failures, fy->failures);
    ASSERT_EQ(fy->latest.size(), 1u);
    EXPECT_EQ(fy->latest[0].device, k_.device.Id());
    auto rx = x.Releases("cam", 10);
    auto ry = y.Releases("cam", 10);
    same(rx, ry);
    ASSERT_EQ(ry->size(), 1u);
    EXPECT_EQ((*ry)[0].id, release_id_);
    EXPECT_EQ((*rx)[0].outcomes, (*ry)[0].outcomes);
    EXPECT_EQ((*rx)[0].block_hash, (*ry)[0].block_hash);
    auto px = x.Products();
    auto py = y.Products();
    same(px, py);
    ASSERT_EQ(py->size(), 1u);
    EXPECT_EQ((*py)[0].latest_sequence, 1u);
    EXPECT_EQ((*px)[0].devices, (*py)[0].devices);
    auto tx_to_x = x.TxsTo(release_id_, "approve");
    auto tx_to_y = y.TxsTo(release_id_, "approve");
    same(tx_to_x, tx_to_y);
    ASSERT_EQ(tx_to_y->size(), 1u);
    EXPECT_EQ((*tx_to_y)[0].sender, k_.approver.PublicHex());
    std::vector<std::string> ox;
    std::vector<std::string> oy;
    ASSERT_TRUE(x.ForEachOutcome("cam", [&](const ChainStore::Outcome& o) {
        ox.push_back(o.device + o.state + std::to_string(o.sequence));
    }));
    ASSERT_TRUE(y.ForEachOutcome("cam", [&](const ChainStore::Outcome& o) {
        oy.push_back(o.device + o.state + std::to_string(o.sequence));
    }));
    EXPECT_EQ(ox, oy);
    EXPECT_EQ(oy.size(), 3u);
    auto cx = x.TxCounts(0, 100);
    auto cy = y.TxCounts(0, 100);
    same(cx, cy);
    EXPECT_EQ(*cx, *cy);
    auto kx = x.Registry("");
    auto ky = y.Registry("");
    same(kx, ky);
    EXPECT_EQ(Dump(*kx), Dump(*ky));

    // Disconnecting the migrated tip reads its legacy undo rows; the result is the same.
    for (ChainStore* s : {&x, &y}) {
        ASSERT_TRUE(s->Transaction([&]() -> Status {
            FW_ASSIGN(Block gone_block, s->DisconnectTip());
            EXPECT_EQ(gone_block.Hash(), blocks_.back().Hash());
            return {};
        }));
    }
    kx = x.Registry("");
    ky = y.Registry("");
    same(kx, ky);
    EXPECT_EQ(Dump(*kx), Dump(*ky));
#undef same
    auto dev = y.FindKey(k_.device.PublicHex());
    ASSERT_TRUE(dev && *dev);
    EXPECT_EQ((*dev)->last_nonce, (*before)->last_nonce);
    auto gone = y.FindKey(k_.outsider.PublicHex());
    ASSERT_TRUE(gone);
    EXPECT_FALSE(*gone);
    auto side = y.BlockJson(ToHex(blocks_.back().Hash()));
    ASSERT_TRUE(side && *side);
    EXPECT_EQ(**side, blocks_.back().text());
}

// The child process of the crash test: connects `blocks` in one SubmitBlocks call and is killed
// (SIGKILL) right after block `kill_at` is written, in the middle of its batch.
std::uint64_t g_kill_at = 0;
void KillAt(std::uint64_t height) {
    if (height == g_kill_at) ::kill(::getpid(), SIGKILL);
}

TEST_F(StoreTest, ACrashInTheMiddleOfABatchLeavesWholeBlocksOnly) {
    const std::string dev = k_.device.Id();
    Mine({testing::AdmitTx(k_.admission, dev, k_.device, "device")});
    for (std::uint64_t n = 1; n <= 40; ++n) Mine({testing::UpdateTx(k_.device, dev, n)});
    chain_.reset();
    // A fresh node syncs blocks 1..41: batches of 16, killed while writing block 21 (the
    // second batch, 17..32).
    std::vector<EncodedBlock> sync;
    for (std::size_t i = 1; i < blocks_.size(); ++i) {
        auto j = ParseJson(blocks_[i].text());
        ASSERT_TRUE(j);
        auto e = EncodedBlock::Parse(*j);
        ASSERT_TRUE(e);
        sync.push_back(std::move(*e));
    }
    const std::string path = dir_ / "b.sqlite";
    {
        auto fresh = OpenChain(path, genesis_);
        ASSERT_TRUE(fresh);
    }
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        g_kill_at = 21;
        ChainStore::SetAfterBlockWrittenForTest(KillAt);
        ChainOptions o;
        o.db_path = path;
        o.genesis_hash = genesis_.Hash();
        o.genesis = genesis_;
        auto c = Chain::Open(o);
        // As sync hands them over: runs of 16, each run in one transaction.
        for (std::size_t i = 0; c && i < sync.size(); i += 16) {
            const std::size_t end = std::min(sync.size(), i + 16);
            std::vector<EncodedBlock> run;
            for (std::size_t j = i; j < end; ++j) {
                auto again = EncodedBlock::Parse(*ParseJson(sync[j].text()));
                if (!again) ::_exit(4);
                run.push_back(std::move(*again));
            }
            (void)(*c)->SubmitBlocks(run, NowSeconds());
        }
        ::_exit(3);  // not reached when the hook fires
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);

    auto chain = OpenChain(path, genesis_);
    ASSERT_TRUE(chain);
    auto tip = chain->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->height, 16u);  // the first batch committed, nothing of the second
    for (std::uint64_t h = 0; h <= 16; ++h) {
        auto json = chain->BlockJsonAtHeight(h);
        ASSERT_TRUE(json && *json);
        EXPECT_EQ(**json, blocks_[h].text());
    }
    auto above = chain->BlockJsonAtHeight(17);
    ASSERT_TRUE(above);
    EXPECT_FALSE(*above);
    auto counts = chain->TxCounts(0, 100);
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->size(), 17u);
    EXPECT_EQ(counts->rbegin()->first, 16u);
    auto key = chain->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(key && *key);
    EXPECT_EQ((*key)->last_nonce, 15u);  // block h (h >= 2) carries nonce h - 1
    // The rest of the sync then connects on top.
    std::vector<EncodedBlock> rest(std::make_move_iterator(sync.begin() + 16),
                                   std::make_move_iterator(sync.end()));
    for (const auto& r : chain->SubmitBlocks(rest, NowSeconds())) {
        ASSERT_TRUE(r) << r.error().ToString();
    }
    tip = chain->Tip();
    ASSERT_TRUE(tip);
    EXPECT_EQ(tip->height, 41u);
    key = chain->FindKey(k_.device.PublicHex());
    ASSERT_TRUE(key && *key);
    EXPECT_EQ((*key)->last_nonce, 40u);
}

}  // namespace
}  // namespace fwchain::ledger
