#include "ledger/chain/rollouts.hpp"

#include <map>
#include <set>

#include "common/core/rollout.hpp"
#include "common/core/tx.hpp"
#include "common/core/tx_bodies.hpp"

namespace fwchain::ledger {

namespace {

struct Entry {
    ChainStore::ReleaseTx tx;
    ReleaseTxBody body;
    std::vector<std::string> approvers;
    std::vector<std::string> approval_txs;
    std::vector<Json> controls;
    RolloutEvidence evidence;
};

}  // namespace

Expected<Json> RolloutReport(ChainStore& store, const Root& root, const std::string& product,
                             std::int64_t now) {
    FW_ASSIGN(auto releases, store.ReleasesOf(product));
    std::vector<Entry> entries;
    std::map<std::uint64_t, std::size_t> by_sequence;
    for (auto& r : releases) {
        auto tx = ParseJson(r.json, kMaxTxSize);
        if (!tx) continue;
        auto body = ReleaseTxBody::Parse((*tx)["body"]);
        // A body the programs cannot read (hardware missing, a malformed rollout copy) was still
        // valid for consensus: show the release, without a policy.
        if (!body) body = ReleaseTxBody::Parse((*tx)["body"], TxBodyScope::kConsensus);
        if (!body) continue;
        by_sequence[body->sequence] = entries.size();
        entries.push_back(Entry{std::move(r), std::move(*body), {}, {}, {}, {}});
    }
    std::vector<OutcomeCounter> counters;
    for (auto& e : entries) {
        const Rollout* policy = e.body.rollout ? &*e.body.rollout : nullptr;
        counters.emplace_back(policy ? policy->max_failure_rate : 0,
                              policy ? policy->min_reports : 0);
        // Approvals count once per key of the current root's approver role.
        FW_ASSIGN(auto approvals, store.TxsTo(e.tx.id, txtype::kApprove));
        std::set<std::string> seen;
        for (const auto& a : approvals) {
            auto key = PublicKeyFromHex(a.sender);
            if (!key || !root.HasRoleKey("approver", *key) || !seen.insert(a.sender).second) {
                continue;
            }
            e.approvers.push_back(a.sender);
            e.approval_txs.push_back(a.id);
        }
        e.evidence.approvals = static_cast<std::uint32_t>(e.approvers.size());
        FW_ASSIGN(auto controls, store.TxsTo(e.tx.id, txtype::kRollout));
        for (const auto& c : controls) {
            ApplyRolloutAction(e.evidence, c.state);
            e.controls.push_back(Json{{"action", c.state}, {"by", c.sender}, {"tx", c.id}});
        }
    }
    // Device outcomes, in chain order, to the release they are about. A failure about a
    // manifest that did not verify, or about what the device already ran, is nobody's.
    FW_TRY(store.ForEachOutcome(product, [&](const ChainStore::Outcome& o) {
        auto it = by_sequence.find(o.sequence);
        if (it == by_sequence.end()) return;
        if (o.state == "failed" && (o.rejected || o.sequence == o.previous_sequence)) return;
        counters[it->second].Add(o.device, o.state);
    }));
    FW_ASSIGN(auto devices, store.DevicesOf(product));

    Json out = Json::array();
    bool newer_offered = false;
    for (std::size_t i = entries.size(); i-- > 0;) {
        Entry& e = entries[i];
        counters[i].Fill(e.evidence);
        const Rollout* policy = e.body.rollout ? &*e.body.rollout : nullptr;
        const RolloutDecision d = DecideRollout(policy, e.body.min_approvals, e.evidence, now);
        std::uint64_t in_stage = 0;
        if (d.Offered()) {
            for (const auto& id : devices) {
                if (InRollout(RolloutBucket(id, product, e.body.sequence), d.percent)) ++in_stage;
            }
        }
        Json stage = nullptr;
        if (policy) {
            Json next = nullptr;
            const auto n = static_cast<std::size_t>(d.stage + 1);
            if (n < policy->stages.size()) next = policy->stages[n].start;
            stage = Json{{"index", d.stage}, {"percent", d.percent}, {"next_start", next}};
        }
        out.push_back(Json{
            {"tx", e.tx.id},
            {"version", e.tx.version},
            {"sequence", e.body.sequence},
            {"height", e.tx.height},
            {"time", e.tx.time},
            {"rollout", policy ? policy->ToJson() : Json(nullptr)},
            {"stage", stage},
            {"state", PhaseName(d.phase)},
            {"offered", d.Offered()},
            {"percent", d.percent},
            {"reason", d.reason},
            {"superseded", newer_offered},
            {"approvals",
             {{"have", e.evidence.approvals},
              {"need", e.body.min_approvals},
              {"by", e.approvers},
              {"txs", e.approval_txs}}},
            {"controls", e.controls},
            {"devices",
             {{"fleet", devices.size()},
              {"in_stage", in_stage},
              {"installed", e.evidence.installed},
              {"failed", e.evidence.failed},
              {"rolled_back", e.evidence.rolled_back}}},
        });
        newer_offered = newer_offered || d.Offered();
    }
    return Json{{"product", product}, {"time", now}, {"releases", std::move(out)}};
}

}  // namespace fwchain::ledger
