// Signed envelopes and thresholds (TUF style): only distinct, valid signatures by keys listed
// for the role count.
#include "common/core/envelope.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/unit/common/helpers.hpp"

namespace fwchain {
namespace {

using test::TestKey;

class ThresholdTest : public ::testing::Test {
  protected:
    ThresholdTest() : k1_(TestKey(1)), k2_(TestKey(2)), k3_(TestKey(3)), outsider_(TestKey(9)) {
        for (const SigningKey* k : {&k1_, &k2_, &k3_, &outsider_}) {
            trusted_[k->Id()] = k->Public();
        }
        role_ids_ = {k1_.Id(), k2_.Id(), k3_.Id()};
        doc_ = Json{{"type", "test"}, {"expires", 100}, {"n", 1}};
    }

    Status Check(const Envelope& env) const {
        return VerifyThreshold(env, trusted_, role_ids_, 2, "release");
    }

    SigningKey k1_, k2_, k3_, outsider_;
    std::map<std::string, PublicKey> trusted_;
    std::vector<std::string> role_ids_;
    Json doc_;
};

TEST_F(ThresholdTest, TwoOfThree) {
    struct Case {
        const char* name;
        std::vector<const SigningKey*> signers;
        bool ok;
    };
    const std::vector<Case> cases = {
        {"none", {}, false},
        {"one", {&k1_}, false},
        {"two", {&k1_, &k2_}, true},
        {"other two", {&k2_, &k3_}, true},
        {"three", {&k3_, &k1_, &k2_}, true},
        {"one key twice", {&k1_, &k1_}, false},
        {"one key thrice", {&k2_, &k2_, &k2_}, false},
        {"one plus outsider", {&k1_, &outsider_}, false},
        {"outsider twice plus one", {&outsider_, &k3_, &outsider_}, false},
        {"two plus outsider", {&outsider_, &k1_, &k3_}, true},
    };
    for (const auto& c : cases) {
        Envelope env = SignDocument(doc_, c.signers);
        EXPECT_EQ(env.signatures.size(), c.signers.size());
        auto st = Check(env);
        EXPECT_EQ(static_cast<bool>(st), c.ok) << c.name;
        if (!st) {
            EXPECT_EQ(st.error().code, Errc::kVerify) << c.name;
            EXPECT_EQ(st.error().reason, "bad-signature") << c.name;
        }
    }
}

TEST_F(ThresholdTest, TamperedDocumentFails) {
    Envelope env = SignDocument(doc_, {&k1_, &k2_});
    ASSERT_TRUE(Check(env));
    const std::vector<std::pair<const char*, Json>> tampered = {
        {"changed value", Json{{"type", "test"}, {"expires", 101}, {"n", 1}}},
        {"added field", Json{{"type", "test"}, {"expires", 100}, {"n", 1}, {"x", 0}}},
        {"removed field", Json{{"type", "test"}, {"expires", 100}}},
        {"type changed", Json{{"type", "tesT"}, {"expires", 100}, {"n", 1}}},
    };
    for (const auto& [name, doc] : tampered) {
        Envelope bad = env;
        bad.signed_doc = doc;
        auto st = Check(bad);
        ASSERT_FALSE(st) << name;
        EXPECT_EQ(st.error().reason, "bad-signature") << name;
    }
}

TEST_F(ThresholdTest, CorruptSignatureFailsAndSigUnderWrongKeyIdIgnored) {
    Envelope env = SignDocument(doc_, {&k1_, &k2_});
    Envelope corrupt = env;
    std::string& sig = corrupt.signatures[1].second;
    sig[10] = sig[10] == '0' ? '1' : '0';
    EXPECT_FALSE(Check(corrupt));

    // k2's signature relabelled as k3's: it verifies under neither name.
    Envelope relabelled = env;
    relabelled.signatures[1].first = k3_.Id();
    EXPECT_FALSE(Check(relabelled));

    // A key id that the trust map does not know.
    Envelope unknown = env;
    unknown.signatures[1].first = std::string(64, 'a');
    EXPECT_FALSE(Check(unknown));
}

TEST_F(ThresholdTest, InvalidEntryDoesNotShadowALaterValidOneFromSameKey) {
    Envelope env = SignDocument(doc_, {&k1_, &k2_});
    // A garbage signature labelled k1 placed first must not stop k1's real one from counting.
    env.signatures.insert(env.signatures.begin(), {k1_.Id(), std::string(128, '0')});
    EXPECT_TRUE(Check(env));
}

TEST_F(ThresholdTest, ZeroThresholdRefused) {
    Envelope env = SignDocument(doc_, {&k1_, &k2_, &k3_});
    auto st = VerifyThreshold(env, trusted_, role_ids_, 0, "root");
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().reason, "threshold");
}

TEST_F(ThresholdTest, SerializeParseRoundTrip) {
    Envelope env = SignDocument(doc_, {&k1_, &k3_});
    const std::string text = env.Serialize();
    auto back = ParseEnvelope(std::string_view(text));
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(back->Serialize(), text);
    EXPECT_EQ(back->SignedHash(), Sha256Hex(Canonical(doc_)));
    EXPECT_TRUE(Check(*back));
}

TEST(Envelope, ParseRejectsMalformed) {
    const SigningKey k = TestKey(1);
    const std::string keyid = k.Id();
    const std::string sig(128, '0');
    auto entry = [](const std::string& id, const std::string& s) {
        return R"({"keyid":")" + id + R"(","sig":")" + s + "\"}";
    };
    const std::vector<std::pair<const char*, std::string>> bad = {
        {"array", "[]"},
        {"no signed", R"({"signatures":[]})"},
        {"no signatures", R"({"signed":{}})"},
        {"signed not object", R"({"signed":[],"signatures":[]})"},
        {"signatures not array", R"({"signed":{},"signatures":{}})"},
        {"short keyid", R"({"signed":{},"signatures":[)" + entry("ab", sig) + "]}"},
        {"upper keyid", R"({"signed":{},"signatures":[)" + entry(std::string(64, 'A'), sig) + "]}"},
        {"short sig", R"({"signed":{},"signatures":[)" + entry(keyid, "00") + "]}"},
        {"entry not object", R"({"signed":{},"signatures":[1]})"},
        {"float in signed", R"({"signed":{"x":1.5},"signatures":[]})"},
    };
    for (const auto& [name, text] : bad) {
        auto env = ParseEnvelope(std::string_view(text));
        EXPECT_FALSE(env) << name;
        if (!env) {
            EXPECT_EQ(env.error().code, Errc::kInvalid) << name;
        }
    }
    std::string many = R"({"signed":{},"signatures":[)";
    for (int i = 0; i < 65; ++i) many += (i ? "," : "") + entry(keyid, sig);
    many += "]}";
    auto env = ParseEnvelope(std::string_view(many));
    ASSERT_FALSE(env);
    EXPECT_EQ(env.error().reason, "malformed");
}

}  // namespace
}  // namespace fwchain
