// The release manifest's one definition (common/core/release.hpp): what the builder writes is
// what the parser reads back, field by field, and every field is refused when malformed.
#include "common/core/release.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace fwchain {
namespace {

ReleaseManifest Full() {
    ReleaseManifest m;
    m.vendor = "acme";
    m.product = "cam-2";
    m.hardware = {"rev-a", "rev-b"};
    m.version = "1.4.2-rc.1";
    m.sequence = 42;
    m.image = ImageInfo{std::string(64, 'c'), 1000, "fw.bin"};
    m.source = ReleaseSource{"https://example.com/fw.git", "v1.4.2", std::string(40, 'a'),
                             "Release Bot <ci@example.com>", "notes\nline 2"};
    m.created = 1'700'000'000;
    m.expires = 1'800'000'000;
    m.torrent = TorrentInfo{std::string(40, '1'), std::string(64, '2')};
    m.rollout = Rollout{{{1, 1'700'000'100}, {25, 1'700'086'500}}, 20, 10};
    m.min_approvals = 2;
    return m;
}

ReleaseManifest Minimal() {
    ReleaseManifest m = Full();
    m.torrent.reset();
    m.rollout.reset();
    m.min_approvals = 0;
    return m;
}

TEST(ReleaseManifestTest, RoundTripWithEveryField) {
    const ReleaseManifest m = Full();
    const Json j = m.ToJson();
    auto back = ReleaseManifest::Parse(j);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, m);
    EXPECT_EQ(Canonical(back->ToJson()), Canonical(j));
    ASSERT_TRUE(back->torrent);
    EXPECT_EQ(back->torrent->infohash_v1, std::string(40, '1'));
    ASSERT_TRUE(back->rollout);
    ASSERT_EQ(back->rollout->stages.size(), 2u);
    EXPECT_EQ(back->rollout->stages[1].percent, 25u);
    EXPECT_EQ(back->rollout->stages[0].start, 1'700'000'100);
    EXPECT_EQ(back->rollout->max_failure_rate, 20u);
    EXPECT_EQ(back->rollout->min_reports, 10u);
    EXPECT_EQ(back->min_approvals, 2u);
}

TEST(ReleaseManifestTest, OptionalFieldsAreAbsentWhenUnset) {
    const Json j = Minimal().ToJson();
    EXPECT_FALSE(j.contains("torrent"));
    EXPECT_FALSE(j.contains("rollout"));
    EXPECT_FALSE(j.contains("min_approvals"));
    auto back = ReleaseManifest::Parse(j);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, Minimal());
}

// The exact bytes the vendor has always signed: a builder change that alters them would change
// every manifest hash (timestamps and release txs name it).
TEST(ReleaseManifestTest, WireShapeIsStable) {
    EXPECT_EQ(
        Canonical(Full().ToJson()),
        R"({"created":1700000000,"expires":1800000000,"hardware":["rev-a","rev-b"],)"
        R"("image":{"name":"fw.bin","sha256":")" +
            std::string(64, 'c') +
            R"(","size":1000},"min_approvals":2,"product":"cam-2",)"
            R"("rollout":{"max_failure_rate":20,"min_reports":10,"stages":[{"percent":1,"start":1700000100},{"percent":25,"start":1700086500}]},"sequence":42,)"
            R"("source":{"commit":")" +
            std::string(40, 'a') +
            R"(","notes":"notes\nline 2","repo":"https://example.com/fw.git",)"
            R"("tag":"v1.4.2","tagger":"Release Bot <ci@example.com>"},)"
            R"("torrent":{"infohash_v1":")" +
            std::string(40, '1') + R"(","infohash_v2":")" + std::string(64, '2') +
            R"("},"type":"release","vendor":"acme","version":"1.4.2-rc.1"})");
}

TEST(ReleaseManifestTest, MalformedFieldsAreRefused) {
    struct Case {
        const char* name;
        std::function<void(Json&)> mutate;
        std::string reason = "malformed";
    };
    const std::vector<Case> cases = {
        {"not an object", [](Json& j) { j = Json::array(); }, "wrong-type"},
        {"no type", [](Json& j) { j.erase("type"); }, "wrong-type"},
        {"timestamp type", [](Json& j) { j["type"] = "timestamp"; }, "wrong-type"},
        // Required fields: missing, mistyped, out of range.
        {"vendor missing", [](Json& j) { j.erase("vendor"); }},
        {"vendor empty", [](Json& j) { j["vendor"] = ""; }},
        {"vendor not a string", [](Json& j) { j["vendor"] = 1; }},
        {"product missing", [](Json& j) { j.erase("product"); }},
        {"product uppercase", [](Json& j) { j["product"] = "Cam"; }, "bad-product"},
        {"product with a slash", [](Json& j) { j["product"] = "cam/../x"; }, "bad-product"},
        {"hardware missing", [](Json& j) { j.erase("hardware"); }},
        {"hardware empty", [](Json& j) { j["hardware"] = Json::array(); }},
        {"hardware not strings", [](Json& j) { j["hardware"] = {1}; }},
        {"hardware empty string",
         [](Json& j) {
             j["hardware"] = {"rev-a", ""};
         }},
        {"hardware a string", [](Json& j) { j["hardware"] = "rev-a"; }},
        {"version missing", [](Json& j) { j.erase("version"); }},
        {"version empty", [](Json& j) { j["version"] = ""; }},
        {"version too long", [](Json& j) { j["version"] = std::string(65, '1'); }},
        {"version a number", [](Json& j) { j["version"] = 1; }},
        {"sequence missing", [](Json& j) { j.erase("sequence"); }},
        {"sequence zero", [](Json& j) { j["sequence"] = 0; }},
        {"sequence negative", [](Json& j) { j["sequence"] = -1; }},
        {"sequence a string", [](Json& j) { j["sequence"] = "7"; }},
        {"sequence a float", [](Json& j) { j["sequence"] = 7.0; }},
        {"image missing", [](Json& j) { j.erase("image"); }},
        {"image an array", [](Json& j) { j["image"] = Json::array(); }},
        {"image sha256 uppercase", [](Json& j) { j["image"]["sha256"] = std::string(64, 'C'); }},
        {"image sha256 short", [](Json& j) { j["image"]["sha256"] = std::string(62, 'c'); }},
        {"image size missing", [](Json& j) { j["image"].erase("size"); }},
        {"image size negative", [](Json& j) { j["image"]["size"] = -1; }},
        {"image name missing", [](Json& j) { j["image"].erase("name"); }},
        {"source missing", [](Json& j) { j.erase("source"); }},
        {"source a string", [](Json& j) { j["source"] = "git"; }},
        {"source repo missing", [](Json& j) { j["source"].erase("repo"); }},
        {"source tag missing", [](Json& j) { j["source"].erase("tag"); }},
        {"source commit a number", [](Json& j) { j["source"]["commit"] = 1; }},
        {"source tagger missing", [](Json& j) { j["source"].erase("tagger"); }},
        {"source notes missing", [](Json& j) { j["source"].erase("notes"); }},
        {"created missing", [](Json& j) { j.erase("created"); }},
        {"created a string", [](Json& j) { j["created"] = "now"; }},
        {"expires missing", [](Json& j) { j.erase("expires"); }},
        {"expires above int64", [](Json& j) { j["expires"] = std::uint64_t{1} << 63; }},
        // Optional fields: refused when present and malformed.
        {"torrent not an object", [](Json& j) { j["torrent"] = "magnet:?"; }},
        {"torrent v1 missing", [](Json& j) { j["torrent"].erase("infohash_v1"); }},
        {"torrent v2 missing", [](Json& j) { j["torrent"].erase("infohash_v2"); }},
        {"torrent v1 of 64 hex",
         [](Json& j) { j["torrent"]["infohash_v1"] = std::string(64, 'a'); }},
        {"torrent v2 of 40 hex",
         [](Json& j) { j["torrent"]["infohash_v2"] = std::string(40, 'a'); }},
        {"torrent v1 uppercase",
         [](Json& j) { j["torrent"]["infohash_v1"] = std::string(40, 'A'); }},
        {"torrent v2 not hex", [](Json& j) { j["torrent"]["infohash_v2"] = std::string(64, 'g'); }},
        {"rollout not an object", [](Json& j) { j["rollout"] = 25; }},
        {"rollout stages missing", [](Json& j) { j["rollout"].erase("stages"); }},
        {"rollout no stage", [](Json& j) { j["rollout"]["stages"] = Json::array(); }},
        {"rollout stage percent missing",
         [](Json& j) { j["rollout"]["stages"][0].erase("percent"); }},
        {"rollout stage percent zero", [](Json& j) { j["rollout"]["stages"][0]["percent"] = 0; }},
        {"rollout stage percent 101", [](Json& j) { j["rollout"]["stages"][1]["percent"] = 101; }},
        {"rollout stage percent negative",
         [](Json& j) { j["rollout"]["stages"][0]["percent"] = -5; }},
        {"rollout stage percent a string",
         [](Json& j) { j["rollout"]["stages"][0]["percent"] = "25"; }},
        {"rollout stage start missing", [](Json& j) { j["rollout"]["stages"][0].erase("start"); }},
        {"rollout stage start negative", [](Json& j) { j["rollout"]["stages"][0]["start"] = -1; }},
        {"rollout stages shrink", [](Json& j) { j["rollout"]["stages"][0]["percent"] = 50; }},
        {"rollout stages go back in time", [](Json& j) { j["rollout"]["stages"][1]["start"] = 5; }},
        {"rollout failure rate 0", [](Json& j) { j["rollout"]["max_failure_rate"] = 0; }},
        {"rollout failure rate 101", [](Json& j) { j["rollout"]["max_failure_rate"] = 101; }},
        {"rollout min_reports 0", [](Json& j) { j["rollout"]["min_reports"] = 0; }},
        {"min_approvals zero", [](Json& j) { j["min_approvals"] = 0; }},
        {"min_approvals 101", [](Json& j) { j["min_approvals"] = 101; }},
        {"min_approvals negative", [](Json& j) { j["min_approvals"] = -1; }},
        {"min_approvals a string", [](Json& j) { j["min_approvals"] = "2"; }},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Json j = Full().ToJson();
        ASSERT_TRUE(ReleaseManifest::Parse(j));
        c.mutate(j);
        auto m = ReleaseManifest::Parse(j);
        ASSERT_FALSE(m) << j.dump();
        EXPECT_EQ(m.error().reason, c.reason) << m.error().ToString();
        EXPECT_EQ(m.error().code, Errc::kInvalid);
    }
}

TEST(ReleaseManifestTest, BoundaryValuesOfOptionalFieldsAreAccepted) {
    for (std::uint32_t percent : {1u, 100u}) {
        ReleaseManifest m = Full();
        m.rollout = Rollout{{{percent, 0}}, 0, 0};
        auto back = ReleaseManifest::Parse(m.ToJson());
        ASSERT_TRUE(back) << back.error().ToString();
        EXPECT_EQ(back->rollout->stages[0].percent, percent);
    }
    for (std::uint32_t n : {1u, kMaxMinApprovals}) {
        ReleaseManifest m = Full();
        m.min_approvals = n;
        auto back = ReleaseManifest::Parse(m.ToJson());
        ASSERT_TRUE(back) << back.error().ToString();
        EXPECT_EQ(back->min_approvals, n);
    }
}

}  // namespace
}  // namespace fwchain
