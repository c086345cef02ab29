#include "device-agent/slots.hpp"

namespace fwchain::device {

std::string OtherSlot(const std::string& slot) { return slot == "a" ? "b" : "a"; }

bool IsSlotName(const std::string& slot) { return slot == "a" || slot == "b"; }

Json BootInfo::ToJson() const {
    return Json{{"active", active},
                {"booted", booted},
                {"try_once", try_once},
                {"attempts_left", attempts_left},
                {"good", {{"a", good_a}, {"b", good_b}}}};
}

Expected<BootInfo> BootInfo::FromJson(const Json& j) {
    BootInfo b;
    FW_ASSIGN(b.active, GetString(j, "active"));
    FW_ASSIGN(b.booted, GetString(j, "booted"));
    if (!IsSlotName(b.active) || !IsSlotName(b.booted)) {
        return Fail(Errc::kInvalid, "bad-boot-state", "boot.json names an unknown slot");
    }
    if (!j.contains("try_once") || !j["try_once"].is_boolean()) {
        return Fail(Errc::kInvalid, "bad-boot-state", "boot.json: try_once must be a boolean");
    }
    b.try_once = j["try_once"].get<bool>();
    FW_ASSIGN(std::int64_t attempts, GetInt(j, "attempts_left"));
    if (attempts < 0 || attempts > 1000) {
        return Fail(Errc::kInvalid, "bad-boot-state", "boot.json: attempts_left out of range");
    }
    b.attempts_left = static_cast<int>(attempts);
    FW_ASSIGN(const Json* good, GetObject(j, "good"));
    for (const char* slot : {"a", "b"}) {
        if (!good->contains(slot) || !(*good)[slot].is_boolean()) {
            return Fail(Errc::kInvalid, "bad-boot-state", "boot.json: good.a/good.b missing");
        }
        b.SetGood(slot, (*good)[slot].get<bool>());
    }
    return b;
}

}  // namespace fwchain::device
