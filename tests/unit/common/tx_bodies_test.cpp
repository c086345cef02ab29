// The tx bodies' one definition (common/core/tx_bodies.hpp): per type, the body the builder
// writes parses back to the same value and the same canonical bytes, and each field is refused
// when missing or mistyped.
#include "common/core/tx_bodies.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "common/core/metadata.hpp"

namespace fwchain {
namespace {

struct Case {
    const char* name;
    std::function<void(Json&)> mutate;
};

// Applies each mutation to `good` and expects `parse` to refuse it as "bad-body".
template <typename Parse>
void ExpectRefused(const Json& good, const std::vector<Case>& cases, Parse parse) {
    ASSERT_TRUE(parse(good));
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Json j = good;
        c.mutate(j);
        auto b = parse(j);
        ASSERT_FALSE(b) << j.dump();
        EXPECT_EQ(b.error().reason, "bad-body") << b.error().ToString();
        EXPECT_EQ(b.error().code, Errc::kInvalid);
    }
}

const std::string kKey = SigningKey::Generate().PublicHex();

std::vector<Case> NotAnObject() {
    return {{"array", [](Json& j) { j = Json::array(); }},
            {"string", [](Json& j) { j = "body"; }},
            {"null", [](Json& j) { j = nullptr; }}};
}

std::vector<Case> With(std::vector<Case> a, const std::vector<Case>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// ---- release ----------------------------------------------------------------------------------

ReleaseTxBody GoodRelease() {
    return ReleaseTxBody{7, std::string(64, 'a'), {"rev-a", "rev-b"}, std::nullopt, 0};
}

TEST(TxBodiesTest, ReleaseRoundTrip) {
    const ReleaseTxBody b = GoodRelease();
    const Json j = b.ToJson();
    EXPECT_EQ(Canonical(j), R"({"hardware":["rev-a","rev-b"],"manifest_sha256":")" +
                                std::string(64, 'a') + R"(","sequence":7})");
    auto back = ReleaseTxBody::Parse(j);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, b);
    // From text, as a node receives it.
    auto parsed = ParseJson(Canonical(j));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*ReleaseTxBody::Parse(*parsed), b);
}

TEST(TxBodiesTest, ReleaseRefusals) {
    const std::vector<Case> consensus = With(
        NotAnObject(),
        {{"sequence missing", [](Json& j) { j.erase("sequence"); }},
         {"sequence negative", [](Json& j) { j["sequence"] = -1; }},
         {"sequence a string", [](Json& j) { j["sequence"] = "7"; }},
         {"sequence a float", [](Json& j) { j["sequence"] = 7.5; }},
         {"manifest_sha256 missing", [](Json& j) { j.erase("manifest_sha256"); }},
         {"manifest_sha256 short", [](Json& j) { j["manifest_sha256"] = std::string(62, 'a'); }},
         {"manifest_sha256 upper", [](Json& j) { j["manifest_sha256"] = std::string(64, 'A'); }},
         {"manifest_sha256 a number", [](Json& j) { j["manifest_sha256"] = 7; }}});
    const std::vector<Case> hardware = {
        {"hardware missing", [](Json& j) { j.erase("hardware"); }},
        {"hardware a string", [](Json& j) { j["hardware"] = "rev-b"; }},
        {"hardware not strings", [](Json& j) { j["hardware"] = {1}; }}};
    const Json good = GoodRelease().ToJson();
    ExpectRefused(good, With(consensus, hardware),
                  [](const Json& j) { return ReleaseTxBody::Parse(j); });
    ExpectRefused(good, consensus,
                  [](const Json& j) { return ReleaseTxBody::Parse(j, TxBodyScope::kConsensus); });
    // `hardware` was never a consensus rule: the ledger's scope still accepts what it always did.
    for (const auto& c : hardware) {
        SCOPED_TRACE(c.name);
        Json j = good;
        c.mutate(j);
        auto b = ReleaseTxBody::Parse(j, TxBodyScope::kConsensus);
        ASSERT_TRUE(b) << b.error().ToString();
        EXPECT_EQ(b->sequence, 7u);
        EXPECT_TRUE(b->hardware.empty());
    }
}

// ---- admit / revoke ---------------------------------------------------------------------------

TEST(TxBodiesTest, AdmitRoundTrip) {
    for (const AdmitTxBody& b :
         {AdmitTxBody{kKey, kRoleDevice, "cam"}, AdmitTxBody{kKey, kRoleGateway, ""}}) {
        auto back = AdmitTxBody::Parse(b.ToJson());
        ASSERT_TRUE(back) << back.error().ToString();
        EXPECT_EQ(*back, b);
    }
    EXPECT_EQ(Canonical(AdmitTxBody{kKey, kRoleDevice, "cam"}.ToJson()),
              R"({"key":")" + kKey + R"(","product":"cam","role":"device"})");
    // `product` may be absent (revocation-style bodies of older admissions): it reads as "".
    auto no_product = AdmitTxBody::Parse(Json{{"key", kKey}, {"role", "gateway"}});
    ASSERT_TRUE(no_product) << no_product.error().ToString();
    EXPECT_EQ(no_product->product, "");
}

std::vector<Case> KeyAndRoleCases() {
    return With(NotAnObject(), {{"key missing", [](Json& j) { j.erase("key"); }},
                                {"key a number", [](Json& j) { j["key"] = 1; }},
                                {"key short", [](Json& j) { j["key"] = std::string(62, 'a'); }},
                                {"key upper", [](Json& j) { j["key"] = std::string(64, 'A'); }},
                                {"role missing", [](Json& j) { j.erase("role"); }},
                                {"role unknown", [](Json& j) { j["role"] = "miner"; }},
                                {"role a number", [](Json& j) { j["role"] = 1; }}});
}

TEST(TxBodiesTest, AdmitRefusals) {
    ExpectRefused(
        AdmitTxBody{kKey, kRoleDevice, "cam"}.ToJson(),
        With(KeyAndRoleCases(), {{"product a number", [](Json& j) { j["product"] = 1; }},
                                 {"product null", [](Json& j) { j["product"] = nullptr; }}}),
        [](const Json& j) { return AdmitTxBody::Parse(j); });
}

TEST(TxBodiesTest, RevokeRoundTripAndRefusals) {
    const RevokeTxBody b{kKey, kRoleGateway};
    EXPECT_EQ(Canonical(b.ToJson()), R"({"key":")" + kKey + R"(","role":"gateway"})");
    auto back = RevokeTxBody::Parse(b.ToJson());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, b);
    ExpectRefused(
        b.ToJson(),
        With(KeyAndRoleCases(), {{"product a number", [](Json& j) { j["product"] = 1; }}}),
        [](const Json& j) { return RevokeTxBody::Parse(j); });
}

// ---- update -----------------------------------------------------------------------------------

UpdateTxBody GoodUpdate() {
    UpdateTxBody b;
    b.product = "cam";
    b.sequence = 3;
    b.previous_sequence = 2;
    b.gateway = "gw1";
    b.reason = "wrong-hardware";
    b.rejected = RejectedManifest{"9.9.9", std::string(64, 'e'), 9};
    return b;
}

TEST(TxBodiesTest, UpdateRoundTrip) {
    UpdateTxBody b = GoodUpdate();
    EXPECT_EQ(Canonical(b.ToJson()),
              R"({"gateway":"gw1","previous_sequence":2,"product":"cam","reason":"wrong-hardware",)"
              R"("rejected":{"sequence":9,"sha256":")" +
                  std::string(64, 'e') + R"(","version":"9.9.9"},"sequence":3})");
    auto back = UpdateTxBody::Parse(b.ToJson());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, b);
    b.rejected.reset();
    EXPECT_FALSE(b.ToJson().contains("rejected"));
    back = UpdateTxBody::Parse(b.ToJson());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, b);
}

TEST(TxBodiesTest, UpdateRefusals) {
    ExpectRefused(
        GoodUpdate().ToJson(),
        With(NotAnObject(),
             {{"product missing", [](Json& j) { j.erase("product"); }},
              {"product a number", [](Json& j) { j["product"] = 1; }},
              {"sequence missing", [](Json& j) { j.erase("sequence"); }},
              {"sequence negative", [](Json& j) { j["sequence"] = -3; }},
              {"sequence a string", [](Json& j) { j["sequence"] = "3"; }},
              {"previous_sequence missing", [](Json& j) { j.erase("previous_sequence"); }},
              {"previous_sequence negative", [](Json& j) { j["previous_sequence"] = -1; }},
              {"gateway missing", [](Json& j) { j.erase("gateway"); }},
              {"gateway a number", [](Json& j) { j["gateway"] = 1; }},
              {"reason missing", [](Json& j) { j.erase("reason"); }},
              {"reason null", [](Json& j) { j["reason"] = nullptr; }},
              {"rejected a string", [](Json& j) { j["rejected"] = "9.9.9"; }},
              {"rejected version missing", [](Json& j) { j["rejected"].erase("version"); }},
              {"rejected sha256 a number", [](Json& j) { j["rejected"]["sha256"] = 1; }},
              {"rejected sequence negative", [](Json& j) { j["rejected"]["sequence"] = -9; }}}),
        [](const Json& j) { return UpdateTxBody::Parse(j); });
}

// ---- root -------------------------------------------------------------------------------------

TEST(TxBodiesTest, RootRoundTripAndRefusals) {
    const SigningKey key = SigningKey::Generate();
    Root r;
    r.vendor = "acme";
    r.version = 2;
    r.keys[key.Id()] = key.Public();
    r.roles["root"] = RoleKeys{{key.Id()}, 1};
    const RootTxBody b{SignDocument(MakeRootSigned(r), {&key})};
    auto back = RootTxBody::Parse(b.ToJson());
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->root.Serialize(), b.root.Serialize());
    EXPECT_EQ(Canonical(b.ToJson()), R"({"root":)" + b.root.Serialize() + "}");
    ExpectRefused(
        b.ToJson(),
        With(NotAnObject(),
             {{"root missing", [](Json& j) { j.erase("root"); }},
              {"root a string", [](Json& j) { j["root"] = "root.json"; }},
              {"root without signed", [](Json& j) { j["root"].erase("signed"); }},
              {"root signatures not a list", [](Json& j) { j["root"]["signatures"] = "none"; }}}),
        [](const Json& j) { return RootTxBody::Parse(j); });
}

}  // namespace
}  // namespace fwchain
