#pragma once
// Crash-safe file helpers: every write that matters is write-temp, fsync, rename, fsync dir.
#include <cstdint>
#include <string>

#include "common/core/expected.hpp"

namespace fwchain {

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0644);
Expected<std::string> ReadFile(const std::string& path, std::size_t max_size = 64 << 20);
Status MakeDirs(const std::string& path, unsigned mode = 0755);
bool FileExists(const std::string& path);
// fsync of the directory containing `path` (makes a rename durable).
Status SyncParentDir(const std::string& path);

// Seconds since the Unix epoch.
std::int64_t NowSeconds();

}  // namespace fwchain
