#include "common/core/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

namespace fwchain {

namespace {
Error IoError(const std::string& what, const std::string& path) {
    return MakeError(Errc::kIo, "io", what + " " + path + ": " + std::strerror(errno));
}
std::string ParentOf(const std::string& path) {
    auto p = std::filesystem::path(path).parent_path();
    return p.empty() ? "." : p.string();
}
}  // namespace

Status SyncParentDir(const std::string& path) {
    int dfd = ::open(ParentOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return Fail(IoError("cannot open directory of", path));
    int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) return Fail(IoError("cannot fsync directory of", path));
    return {};
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
    // Unique per call, not only per process: threads replacing the same file concurrently must
    // not share (and truncate) one temporary file.
    static std::atomic<std::uint64_t> counter{0};
    std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                      std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
    int fd =
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return Fail(IoError("cannot create", tmp));
    ::fchmod(fd, static_cast<mode_t>(mode));  // umask must not loosen or tighten the mode
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            Error e = IoError("cannot write", tmp);
            ::close(fd);
            ::unlink(tmp.c_str());
            return Fail(e);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        Error e = IoError("cannot fsync", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return Fail(e);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Error e = IoError("cannot rename into", path);
        ::unlink(tmp.c_str());
        return Fail(e);
    }
    return SyncParentDir(path);
}

Expected<std::string> ReadFile(const std::string& path, std::size_t max_size) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return Fail(Errc::kNotFound, "not-found", "no such file " + path);
        return Fail(IoError("cannot open", path));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        Error e = IoError("cannot stat", path);
        ::close(fd);
        return Fail(e);
    }
    if (static_cast<std::size_t>(st.st_size) > max_size) {
        ::close(fd);
        return Fail(Errc::kTooLarge, "too-large",
                    path + " is larger than " + std::to_string(max_size) + " bytes");
    }
    // Read to EOF rather than trusting st_size: procfs files report 0 and files may grow.
    std::string out;
    out.resize(std::max<std::size_t>(static_cast<std::size_t>(st.st_size), 4096));
    std::size_t off = 0;
    for (;;) {
        if (off == out.size()) {
            if (out.size() > max_size) {
                ::close(fd);
                return Fail(Errc::kTooLarge, "too-large",
                            path + " is larger than " + std::to_string(max_size) + " bytes");
            }
            out.resize(out.size() * 2);
        }
        ssize_t n = ::read(fd, out.data() + off, out.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            Error e = IoError("cannot read", path);
            ::close(fd);
            return Fail(e);
        }
        if (n == 0) break;
        off += static_cast<std::size_t>(n);
    }
    if (off > max_size) {
        ::close(fd);
        return Fail(Errc::kTooLarge, "too-large",
                    path + " is larger than " + std::to_string(max_size) + " bytes");
    }
    ::close(fd);
    out.resize(off);
    return out;
}

Status MakeDirs(const std::string& path, unsigned mode) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Fail(Errc::kIo, "io", "cannot create directory " + path + ": " + ec.message());
    ::chmod(path.c_str(), static_cast<mode_t>(mode));
    return {};
}

bool FileExists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::int64_t NowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace fwchain
