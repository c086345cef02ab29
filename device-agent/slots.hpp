#pragma once
// A/B slot backends behind one interface (RAUC's src/bootloaders/): `file` (slots are files and
// the boot choice is DIR/boot.json; tests and the fleet simulator) and `command` (user scripts
// for U-Boot/GRUB/EFI boards). The agent never touches the bootloader except through this.
#include <memory>
#include <string>

#include "common/core/expected.hpp"
#include "common/core/json.hpp"

namespace fwchain::device {

// Slots are named "a" and "b".
std::string OtherSlot(const std::string& slot);
bool IsSlotName(const std::string& slot);

struct BootInfo {
    std::string active = "a";  // slot the bootloader picks next
    std::string booted = "a";  // slot running now
    bool try_once = false;     // `active` is on trial: fall back when attempts run out
    int attempts_left = 0;
    bool good_a = true;  // factory image
    bool good_b = false;

    bool Good(const std::string& slot) const { return slot == "a" ? good_a : good_b; }
    void SetGood(const std::string& slot, bool good) { (slot == "a" ? good_a : good_b) = good; }
    Json ToJson() const;
    static Expected<BootInfo> FromJson(const Json& j);
};

class SlotBackend {
  public:
    virtual ~SlotBackend() = default;

    // Called once per boot, before anything else: lets the (simulated) bootloader pick the slot
    // and consume a try-once attempt; returns what was booted.
    virtual Expected<BootInfo> Boot() = 0;
    // Current boot information without side effects (for `status`).
    virtual Expected<BootInfo> Query() const = 0;
    // Where the image for `slot` is written (a file, or a block device for `command`).
    virtual std::string ImagePath(const std::string& slot) const = 0;
    // True when ImagePath is raw storage (a partition, or a pre-sized file) whose length says
    // nothing about the image in it: the download progress is then recorded separately.
    virtual bool RawSlot(const std::string& /*slot*/) const { return false; }
    // Boot `slot` on the next boots, at most `attempts` times unless marked good.
    virtual Status MarkTryOnce(const std::string& slot, int attempts) = 0;
    // `slot` is confirmed: it stays active.
    virtual Status MarkGood(const std::string& slot) = 0;
    // `slot` must not be booted (failed verification or health check).
    virtual Status MarkBad(const std::string& slot) = 0;
    // Makes `slot` (the previous, good one) active again.
    virtual Status Rollback(const std::string& slot) = 0;
    // Reboots into the active slot. The file backend only records the choice: the next
    // `device-agent boot` invocation is the next boot.
    virtual Status Reboot() = 0;
};

// The file backend rooted at a device state dir: DIR/slots/{a,b}.img and DIR/boot.json.
std::unique_ptr<SlotBackend> MakeFileSlotBackend(const std::string& state_dir);

// The command backend (slot_command.cpp) from its JSON config file.
Expected<std::unique_ptr<SlotBackend>> MakeCommandSlotBackend(const std::string& config_path);

// By name: "file" (or "") or "command" with `config` (relative paths are relative to state_dir).
Expected<std::unique_ptr<SlotBackend>> MakeSlotBackend(const std::string& state_dir,
                                                       const std::string& kind,
                                                       const std::string& config);

}  // namespace fwchain::device
