// The vendor's signed documents and the client rules of DESIGN.md §3: root rotation (TUF),
// timestamp freshness and rollback, release matching, anti-rollback and mix-and-match.
#include "common/core/metadata.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/unit/common/helpers.hpp"

namespace fwchain {
namespace {

using test::TestKey;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kDay = 86400;
const std::string kVendor = "acme";
const std::string kProduct = "thermo-1";
const std::string kHardware = "rev-b";

struct RootKeys {
    std::vector<const SigningKey*> root;
    std::size_t root_threshold = 1;
    const SigningKey* release = nullptr;
    const SigningKey* timestamp = nullptr;
    const SigningKey* admission = nullptr;
};

Root BuildRoot(std::uint64_t version, const RootKeys& k, std::int64_t expires) {
    Root r;
    r.vendor = kVendor;
    r.version = version;
    r.issued = kNow - kDay;
    r.expires = expires;
    auto add = [&r](const std::string& role, std::vector<const SigningKey*> keys,
                    std::size_t threshold) {
        RoleKeys rk;
        rk.threshold = threshold;
        for (const SigningKey* key : keys) {
            r.keys[key->Id()] = key->Public();
            rk.keyids.push_back(key->Id());
        }
        r.roles[role] = rk;
    };
    add("root", k.root, k.root_threshold);
    add("release", {k.release}, 1);
    add("timestamp", {k.timestamp}, 1);
    add("admission", {k.admission}, 1);
    return r;
}

Envelope SignedRoot(std::uint64_t version, const RootKeys& k,
                    const std::vector<const SigningKey*>& signers,
                    std::int64_t expires = kNow + 365 * kDay) {
    return SignDocument(MakeRootSigned(BuildRoot(version, k, expires)), signers);
}

class MetadataTest : public ::testing::Test {
  protected:
    MetadataTest()
        : root_a_(TestKey(10)),
          root_b_(TestKey(11)),
          root_c_(TestKey(12)),
          root_d_(TestKey(13)),
          release_(TestKey(20)),
          timestamp_(TestKey(30)),
          admission_(TestKey(40)),
          stranger_(TestKey(99)) {
        keys_v1_ = {{&root_a_}, 1, &release_, &timestamp_, &admission_};
        root_env_ = SignedRoot(1, keys_v1_, {&root_a_});
        auto r = VerifyInitialRoot(root_env_, kNow);
        EXPECT_TRUE(r) << r.error().ToString();
        if (r) root_ = *r;
    }

    Json TimestampDoc(std::uint64_t version = 5, std::int64_t issued = kNow - 60,
                      std::uint64_t latest = 7) const {
        return Json{{"type", "timestamp"},
                    {"version", version},
                    {"issued", issued},
                    {"expires", issued + kDay},
                    {"latest", {{kProduct, latest}}},
                    {"manifests",
                     {{kProduct,
                       {{"6", {{"sha256", Sha256Hex(Canonical(ManifestDoc(6)))}}},
                        {"7", {{"sha256", Sha256Hex(Canonical(ManifestDoc(7)))}}}}}}},
                    {"root_version", root_.version}};
    }

    Timestamp GoodTimestamp() const {
        auto ts = VerifyTimestamp(root_, SignDocument(TimestampDoc(), {&timestamp_}), kNow, {});
        EXPECT_TRUE(ts) << ts.error().ToString();
        return ts ? *ts : Timestamp{};
    }

    ReleaseManifest Manifest(std::uint64_t sequence = 7) const {
        ReleaseManifest m;
        m.vendor = kVendor;
        m.product = kProduct;
        m.hardware = {"rev-a", kHardware};
        m.version = "1.4.2";
        m.sequence = sequence;
        m.image = ImageInfo{std::string(64, 'c'), 1000, "fw.bin"};
        m.source = ReleaseSource{"r", "v1.4.2", std::string(40, 'a'), "ci", ""};
        m.created = kNow - 3600;
        m.expires = kNow + 30 * kDay;
        return m;
    }
    Json ManifestDoc(std::uint64_t sequence = 7) const { return Manifest(sequence).ToJson(); }

    DeviceMatch Device(std::uint64_t installed = 6) const {
        return DeviceMatch{kVendor, kProduct, kHardware, installed, 0};
    }

    SigningKey root_a_, root_b_, root_c_, root_d_, release_, timestamp_, admission_, stranger_;
    RootKeys keys_v1_;
    Envelope root_env_;
    Root root_;
};

// ---- root --------------------------------------------------------------------------------

TEST_F(MetadataTest, InitialRootParsesAllRoles) {
    EXPECT_EQ(root_.vendor, kVendor);
    EXPECT_EQ(root_.version, 1u);
    for (const char* role : {"root", "release", "timestamp", "admission"}) {
        ASSERT_NE(root_.Role(role), nullptr) << role;
    }
    EXPECT_EQ(root_.Role("approver"), nullptr);
    EXPECT_TRUE(root_.HasRoleKey("release", release_.Public()));
    EXPECT_FALSE(root_.HasRoleKey("release", timestamp_.Public()));
    EXPECT_FALSE(root_.HasRoleKey("nope", release_.Public()));
    EXPECT_EQ(root_.keys.size(), 4u);
}

TEST_F(MetadataTest, InitialRootRejections) {
    struct Case {
        const char* name;
        Envelope env;
        std::int64_t now;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {"expired", SignedRoot(1, keys_v1_, {&root_a_}, kNow), kNow, "expired"},
        {"expired long ago", SignedRoot(1, keys_v1_, {&root_a_}, kNow - kDay), kNow, "expired"},
        {"unsigned", SignedRoot(1, keys_v1_, {}), kNow, "bad-signature"},
        {"signed by release key", SignedRoot(1, keys_v1_, {&release_}), kNow, "bad-signature"},
        {"signed by stranger", SignedRoot(1, keys_v1_, {&stranger_}), kNow, "bad-signature"},
        {"below threshold",
         SignedRoot(1, {{&root_a_, &root_b_}, 2, &release_, &timestamp_, &admission_},
                    {&root_a_, &root_a_}),
         kNow, "bad-signature"},
    };
    for (const auto& c : cases) {
        auto r = VerifyInitialRoot(c.env, c.now);
        ASSERT_FALSE(r) << c.name;
        EXPECT_EQ(r.error().reason, c.reason) << c.name << ": " << r.error().ToString();
        EXPECT_EQ(r.error().code, Errc::kVerify) << c.name;
    }
    EXPECT_TRUE(VerifyInitialRoot(
        SignedRoot(1, {{&root_a_, &root_b_}, 2, &release_, &timestamp_, &admission_},
                   {&root_a_, &root_b_}),
        kNow));
}

TEST_F(MetadataTest, ParseRootRejectsMalformed) {
    using Mutate = std::function<void(Json&)>;
    const std::vector<std::pair<const char*, Mutate>> cases = {
        {"wrong type", [](Json& s) { s["type"] = "timestamp"; }},
        {"no version", [](Json& s) { s.erase("version"); }},
        {"negative version", [](Json& s) { s["version"] = -1; }},
        {"no keys", [](Json& s) { s.erase("keys"); }},
        {"no timestamp role", [](Json& s) { s["roles"].erase("timestamp"); }},
        {"no root role", [](Json& s) { s["roles"].erase("root"); }},
        {"zero threshold", [](Json& s) { s["roles"]["release"]["threshold"] = 0; }},
        {"role names unknown key",
         [](Json& s) { s["roles"]["release"]["keyids"] = {std::string(64, 'f')}; }},
        {"key id does not match key",
         [this](Json& s) { s["keys"][release_.Id()]["public"] = timestamp_.PublicHex(); }},
        {"key not hex", [this](Json& s) { s["keys"][release_.Id()]["public"] = "xyz"; }},
    };
    for (const auto& [name, mutate] : cases) {
        Json doc = MakeRootSigned(BuildRoot(1, keys_v1_, kNow + kDay));
        mutate(doc);
        auto r = VerifyInitialRoot(SignDocument(doc, {&root_a_}), kNow);
        ASSERT_FALSE(r) << name;
        EXPECT_EQ(r.error().code, Errc::kInvalid) << name << ": " << r.error().ToString();
        EXPECT_TRUE(r.error().reason == "malformed" || r.error().reason == "wrong-type")
            << name << ": " << r.error().reason;
    }
}

TEST_F(MetadataTest, RootChainRotatesThroughEveryVersion) {
    const RootKeys keys_v2 = {{&root_b_}, 1, &release_, &timestamp_, &admission_};
    const RootKeys keys_v3 = {{&root_c_}, 1, &release_, &timestamp_, &admission_};
    const Envelope v2 = SignedRoot(2, keys_v2, {&root_a_, &root_b_});
    const Envelope v3 = SignedRoot(3, keys_v3, {&root_b_, &root_c_});

    auto r = VerifyRootChain(root_, {v2, v3}, kNow);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->version, 3u);
    EXPECT_TRUE(r->HasRoleKey("root", root_c_.Public()));
    EXPECT_FALSE(r->HasRoleKey("root", root_a_.Public()));

    // Versions the client already has are skipped harmlessly.
    auto again = VerifyRootChain(root_, {root_env_, v2, v3}, kNow);
    ASSERT_TRUE(again) << again.error().ToString();
    EXPECT_EQ(again->version, 3u);
    auto none = VerifyRootChain(*r, {v2}, kNow);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->version, 3u);

    // An expired intermediate root is fine (TUF 5.3): only the final one must be fresh.
    const Envelope v2_old = SignedRoot(2, keys_v2, {&root_a_, &root_b_}, kNow - kDay);
    EXPECT_TRUE(VerifyRootChain(root_, {v2_old, v3}, kNow));
    auto stale = VerifyRootChain(root_, {v2_old}, kNow);
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().reason, "expired");
}

TEST_F(MetadataTest, RootChainRefusals) {
    const RootKeys keys_v2 = {{&root_b_}, 1, &release_, &timestamp_, &admission_};
    const RootKeys keys_v3 = {{&root_c_}, 1, &release_, &timestamp_, &admission_};
    const Envelope v2 = SignedRoot(2, keys_v2, {&root_a_, &root_b_});
    const Envelope v3 = SignedRoot(3, keys_v3, {&root_b_, &root_c_});
    Json other_vendor = MakeRootSigned(BuildRoot(2, keys_v2, kNow + kDay));
    other_vendor["vendor"] = "evil";

    struct Case {
        const char* name;
        std::vector<Envelope> chain;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {"skip v1 to v3", {v3}, "root-gap"},
        {"skip in the middle", {v2, SignedRoot(4, keys_v3, {&root_b_, &root_c_})}, "root-gap"},
        {"v2 signed only by new keys", {SignedRoot(2, keys_v2, {&root_b_})}, "bad-signature"},
        {"v2 signed only by old keys", {SignedRoot(2, keys_v2, {&root_a_})}, "bad-signature"},
        {"v2 signed by release key",
         {SignedRoot(2, keys_v2, {&release_, &root_b_})},
         "bad-signature"},
        {"v3 signed by v1 key",
         {v2, SignedRoot(3, keys_v3, {&root_a_, &root_c_})},
         "bad-signature"},
        {"v2 for another vendor",
         {SignDocument(other_vendor, {&root_a_, &root_b_})},
         "wrong-vendor"},
    };
    for (const auto& c : cases) {
        auto r = VerifyRootChain(root_, c.chain, kNow);
        ASSERT_FALSE(r) << c.name;
        EXPECT_EQ(r.error().reason, c.reason) << c.name << ": " << r.error().ToString();
        EXPECT_EQ(r.error().code, Errc::kVerify) << c.name;
    }
}

TEST_F(MetadataTest, RootChainHonoursOldThreshold) {
    const RootKeys two_of_two = {{&root_a_, &root_b_}, 2, &release_, &timestamp_, &admission_};
    auto v1 = VerifyInitialRoot(SignedRoot(1, two_of_two, {&root_a_, &root_b_}), kNow);
    ASSERT_TRUE(v1);
    const RootKeys keys_v2 = {{&root_c_, &root_d_}, 2, &release_, &timestamp_, &admission_};
    // 1 of the 2 old keys is not enough, even with both new ones.
    auto weak =
        VerifyRootChain(*v1, {SignedRoot(2, keys_v2, {&root_a_, &root_c_, &root_d_})}, kNow);
    ASSERT_FALSE(weak);
    EXPECT_EQ(weak.error().reason, "bad-signature");
    // 2 of the old and 1 of the 2 new keys is not enough either.
    auto weak_new =
        VerifyRootChain(*v1, {SignedRoot(2, keys_v2, {&root_a_, &root_b_, &root_c_})}, kNow);
    ASSERT_FALSE(weak_new);
    EXPECT_EQ(weak_new.error().reason, "bad-signature");
    EXPECT_TRUE(VerifyRootChain(
        *v1, {SignedRoot(2, keys_v2, {&root_a_, &root_b_, &root_c_, &root_d_})}, kNow));
}

// ---- timestamp ---------------------------------------------------------------------------

TEST_F(MetadataTest, TimestampAccepted) {
    auto ts = VerifyTimestamp(root_, SignDocument(TimestampDoc(), {&timestamp_}), kNow,
                              AcceptedMark{5, kNow - 60});
    ASSERT_TRUE(ts) << ts.error().ToString();
    EXPECT_EQ(ts->version, 5u);
    EXPECT_EQ(ts->latest.at(kProduct), 7u);
    EXPECT_EQ(ts->root_version, 1u);
    EXPECT_TRUE(VerifyTimestamp(root_, SignDocument(TimestampDoc(6, kNow - 30), {&timestamp_}),
                                kNow, AcceptedMark{5, kNow - 60}));
}

TEST_F(MetadataTest, TimestampRejections) {
    Json wrong_root = TimestampDoc();
    wrong_root["root_version"] = 2;
    Json bad_latest = TimestampDoc();
    bad_latest["latest"][kProduct] = -1;
    struct Case {
        const char* name;
        Envelope env;
        AcceptedMark last;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {"expired", SignDocument(TimestampDoc(5, kNow - kDay), {&timestamp_}), {}, "expired"},
        {"older version",
         SignDocument(TimestampDoc(4, kNow - 30), {&timestamp_}),
         {5, kNow - 60},
         "rollback"},
        {"older issued",
         SignDocument(TimestampDoc(6, kNow - 120), {&timestamp_}),
         {5, kNow - 60},
         "rollback"},
        {"root version mismatch", SignDocument(wrong_root, {&timestamp_}), {}, "root-mismatch"},
        {"signed by release key", SignDocument(TimestampDoc(), {&release_}), {}, "bad-signature"},
        {"unsigned", SignDocument(TimestampDoc(), {}), {}, "bad-signature"},
        {"not a timestamp", SignDocument(ManifestDoc(), {&timestamp_}), {}, "wrong-type"},
        {"negative latest", SignDocument(bad_latest, {&timestamp_}), {}, "malformed"},
    };
    for (const auto& c : cases) {
        auto ts = VerifyTimestamp(root_, c.env, kNow, c.last);
        ASSERT_FALSE(ts) << c.name;
        EXPECT_EQ(ts.error().reason, c.reason) << c.name << ": " << ts.error().ToString();
    }
}

TEST_F(MetadataTest, RotatedTimestampKeyNoLongerTrusted) {
    const RootKeys keys_v2 = {{&root_a_}, 1, &release_, &stranger_, &admission_};
    auto v2 = VerifyRootChain(root_, {SignedRoot(2, keys_v2, {&root_a_})}, kNow);
    ASSERT_TRUE(v2) << v2.error().ToString();
    Json doc = TimestampDoc();
    doc["root_version"] = 2;
    auto old_key = VerifyTimestamp(*v2, SignDocument(doc, {&timestamp_}), kNow, {});
    ASSERT_FALSE(old_key);
    EXPECT_EQ(old_key.error().reason, "bad-signature");
    EXPECT_TRUE(VerifyTimestamp(*v2, SignDocument(doc, {&stranger_}), kNow, {}));
}

// ---- release -----------------------------------------------------------------------------

TEST_F(MetadataTest, ReleaseAccepted) {
    const Timestamp ts = GoodTimestamp();
    auto r = VerifyRelease(root_, SignDocument(ManifestDoc(), {&release_}), kNow, Device(), ts);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(r->sequence, 7u);
    EXPECT_EQ(r->image.size, 1000u);
    EXPECT_EQ(r->image.name, "fw.bin");
    EXPECT_EQ(r->hardware.size(), 2u);
    EXPECT_EQ(r->ManifestHash(), Sha256Hex(Canonical(ManifestDoc())));
    // Sequence below the timestamp's latest is still covered.
    EXPECT_TRUE(
        VerifyRelease(root_, SignDocument(ManifestDoc(6), {&release_}), kNow, Device(5), ts));
    // A size limit the image fits in exactly.
    DeviceMatch limited = Device();
    limited.max_image_size = 1000;
    EXPECT_TRUE(VerifyRelease(root_, SignDocument(ManifestDoc(), {&release_}), kNow, limited, ts));
}

TEST_F(MetadataTest, ReleaseRejections) {
    const Timestamp ts = GoodTimestamp();
    auto doc_with = [this](const std::function<void(Json&)>& mutate) {
        Json d = ManifestDoc();
        mutate(d);
        return d;
    };
    auto device_with = [this](const std::function<void(DeviceMatch&)>& mutate) {
        DeviceMatch d = Device();
        mutate(d);
        return d;
    };
    struct Case {
        const char* name;
        Envelope env;
        DeviceMatch device;
        std::string reason;
    };
    const Json good = ManifestDoc();
    const std::vector<Case> cases = {
        {"unknown signer", SignDocument(good, {&stranger_}), Device(), "bad-signature"},
        {"timestamp key signs a release", SignDocument(good, {&timestamp_}), Device(),
         "bad-signature"},
        {"unsigned", SignDocument(good, {}), Device(), "bad-signature"},
        {"manifest for another vendor",
         SignDocument(doc_with([](Json& d) { d["vendor"] = "other"; }), {&release_}), Device(),
         "wrong-vendor"},
        {"device of another vendor", SignDocument(good, {&release_}),
         device_with([](DeviceMatch& d) { d.vendor = "other"; }), "wrong-vendor"},
        {"wrong product", SignDocument(good, {&release_}),
         device_with([](DeviceMatch& d) { d.product = "thermo-2"; }), "wrong-product"},
        {"wrong hardware", SignDocument(good, {&release_}),
         device_with([](DeviceMatch& d) { d.hardware = "rev-c"; }), "wrong-hardware"},
        {"rollback: same sequence", SignDocument(good, {&release_}), Device(7), "rollback"},
        {"rollback: older sequence", SignDocument(good, {&release_}), Device(8), "rollback"},
        {"mix-and-match: above timestamp latest", SignDocument(ManifestDoc(8), {&release_}),
         Device(), "mix-and-match"},
        {"mix-and-match: product unknown to timestamp",
         SignDocument(doc_with([](Json& d) { d["product"] = "thermo-2"; }), {&release_}),
         device_with([](DeviceMatch& d) { d.product = "thermo-2"; }), "mix-and-match"},
        {"expired", SignDocument(doc_with([](Json& d) { d["expires"] = kNow; }), {&release_}),
         Device(), "expired"},
        {"image too large", SignDocument(good, {&release_}),
         device_with([](DeviceMatch& d) { d.max_image_size = 999; }), "image-too-large"},
        {"sequence zero", SignDocument(doc_with([](Json& d) { d["sequence"] = 0; }), {&release_}),
         Device(0), "malformed"},
        {"missing image", SignDocument(doc_with([](Json& d) { d.erase("image"); }), {&release_}),
         Device(), "malformed"},
        {"image hash not hex",
         SignDocument(doc_with([](Json& d) { d["image"]["sha256"] = std::string(64, 'C'); }),
                      {&release_}),
         Device(), "malformed"},
        {"hardware not strings",
         SignDocument(doc_with([](Json& d) { d["hardware"] = {1}; }), {&release_}), Device(),
         "malformed"},
        {"negative sequence",
         SignDocument(doc_with([](Json& d) { d["sequence"] = -7; }), {&release_}), Device(),
         "malformed"},
        {"timestamp doc as release", SignDocument(TimestampDoc(), {&release_}), Device(),
         "wrong-type"},
        // A stolen release key signs a manifest of its own: the timestamp names another hash.
        {"manifest the timestamp does not name",
         SignDocument(doc_with([](Json& d) { d["image"]["sha256"] = std::string(64, 'e'); }),
                      {&release_}),
         Device(), "manifest-not-in-timestamp"},
    };
    for (const auto& c : cases) {
        auto r = VerifyRelease(root_, c.env, kNow, c.device, ts);
        ASSERT_FALSE(r) << c.name;
        EXPECT_EQ(r.error().reason, c.reason) << c.name << ": " << r.error().ToString();
    }
}

TEST_F(MetadataTest, ReleaseNeedsTheTimestampToNameItsHash) {
    // A timestamp of the old form (no manifests) names no manifest: nothing is installable.
    Json old_form = TimestampDoc();
    old_form.erase("manifests");
    auto ts = VerifyTimestamp(root_, SignDocument(old_form, {&timestamp_}), kNow, {});
    ASSERT_TRUE(ts) << ts.error().ToString();
    auto r = VerifyRelease(root_, SignDocument(ManifestDoc(), {&release_}), kNow, Device(), *ts);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "manifest-not-in-timestamp");

    // The ledger facts of the timestamp parse and survive a round trip.
    Json with_ledger = TimestampDoc();
    with_ledger["checkpoint"] = {{"height", 300}, {"hash", std::string(64, 'a')}};
    with_ledger["manifests"][kProduct]["7"]["block"] = {{"height", 290},
                                                        {"hash", std::string(64, 'b')}};
    auto parsed = VerifyTimestamp(root_, SignDocument(with_ledger, {&timestamp_}), kNow, {});
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    ASSERT_TRUE(parsed->checkpoint);
    EXPECT_EQ(parsed->checkpoint->height, 300u);
    ASSERT_NE(parsed->Manifest(kProduct, 7), nullptr);
    ASSERT_TRUE(parsed->Manifest(kProduct, 7)->block);
    EXPECT_EQ(parsed->Manifest(kProduct, 7)->block->height, 290u);
    EXPECT_EQ(MakeTimestampSigned(5, kNow - 60, kNow - 60 + kDay, parsed->latest, parsed->manifests,
                                  parsed->checkpoint, root_.version),
              with_ledger);

    // Malformed entries are refused at parse.
    for (const Json& bad : {Json{{kProduct, {{"07", {{"sha256", std::string(64, 'a')}}}}}},
                            Json{{kProduct, {{"7", {{"sha256", "abc"}}}}}}, Json{{kProduct, 7}}}) {
        Json doc = TimestampDoc();
        doc["manifests"] = bad;
        auto t = ParseTimestamp(SignDocument(doc, {&timestamp_}));
        ASSERT_FALSE(t) << bad.dump();
        EXPECT_EQ(t.error().reason, "malformed");
    }
}

TEST_F(MetadataTest, ReleaseTamperedAfterSigningFails) {
    const Timestamp ts = GoodTimestamp();
    Envelope env = SignDocument(ManifestDoc(), {&release_});
    env.signed_doc["hardware"].push_back("rev-z");
    auto r = VerifyRelease(root_, env, kNow, Device(), ts);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "bad-signature");
}

TEST_F(MetadataTest, FloatInManifestRejectedAtParse) {
    Json doc = ManifestDoc();
    doc["image"]["size"] = 1000.0;
    const std::string text = SignDocument(doc, {&release_}).Serialize();
    auto env = ParseEnvelope(std::string_view(text));
    ASSERT_FALSE(env);
    EXPECT_EQ(env.error().reason, "malformed-json");

    // Even bypassing the text parser, a float is not an unsigned integer field.
    const Timestamp ts = GoodTimestamp();
    auto r = VerifyRelease(root_, SignDocument(doc, {&release_}), kNow, Device(), ts);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "malformed");
}

TEST_F(MetadataTest, ReleaseWireRoundTrip) {
    const Timestamp ts = GoodTimestamp();
    const std::string text = SignDocument(ManifestDoc(), {&release_}).Serialize();
    auto env = ParseEnvelope(std::string_view(text));
    ASSERT_TRUE(env) << env.error().ToString();
    EXPECT_TRUE(VerifyRelease(root_, *env, kNow, Device(), ts));
}

TEST_F(MetadataTest, RelayChecksSignaturesVendorExpiryAndTimestampOnly) {
    const Timestamp ts = GoodTimestamp();
    // The relay does not apply per-device rules: another product's hardware list is fine.
    Json doc = ManifestDoc();
    doc["hardware"] = {"rev-x"};
    auto r = VerifyReleaseForRelay(root_, SignDocument(doc, {&release_}), kNow, ts);
    ASSERT_TRUE(r) << r.error().ToString();

    struct Case {
        const char* name;
        Envelope env;
        std::string reason;
    };
    Json other_vendor = ManifestDoc();
    other_vendor["vendor"] = "other";
    const std::vector<Case> cases = {
        {"stranger", SignDocument(ManifestDoc(), {&stranger_}), "bad-signature"},
        {"vendor", SignDocument(other_vendor, {&release_}), "wrong-vendor"},
        {"mix", SignDocument(ManifestDoc(9), {&release_}), "mix-and-match"},
    };
    for (const auto& c : cases) {
        auto bad = VerifyReleaseForRelay(root_, c.env, kNow, ts);
        ASSERT_FALSE(bad) << c.name;
        EXPECT_EQ(bad.error().reason, c.reason) << c.name;
    }
    auto expired = VerifyReleaseForRelay(root_, SignDocument(ManifestDoc(), {&release_}),
                                         kNow + 31 * kDay, ts);
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().reason, "expired");
}

}  // namespace
}  // namespace fwchain
