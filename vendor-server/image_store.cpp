#include "vendor-server/image_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/core/crypto.hpp"
#include "common/core/fs.hpp"

namespace fwchain::vendor {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

Status WriteAll(int fd, const char* data, std::size_t size, const std::string& path) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Fail(Errc::kIo, "io", Errno("writing " + path));
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return {};
}

// Feeds chunks from `produce` (returns bytes read, 0 at end, or an error) into a temp file and
// the hash, then moves the file to images/<sha256>.
Expected<StoredImage> Store(
    const DataDir& dir, const std::function<Expected<std::size_t>(char*, std::size_t)>& produce) {
    FW_TRY(MakeDirs(dir.ImagesDir()));
    std::uint8_t rnd[8];
    RandomBytes(rnd, sizeof rnd);
    const std::string tmp = dir.ImagesDir() + "/.tmp-" + ToHex(rnd, sizeof rnd);
    Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (out.get() < 0) return Fail(Errc::kIo, "io", Errno("creating " + tmp));
    Rollback cleanup;
    cleanup.RemoveOnFailure(tmp);

    Sha256Stream hash;
    std::uint64_t size = 0;
    std::vector<char> buf(1 << 16);
    for (;;) {
        FW_ASSIGN(std::size_t n, produce(buf.data(), buf.size()));
        if (n == 0) break;
        hash.Update(buf.data(), n);
        FW_TRY(WriteAll(out.get(), buf.data(), n, tmp));
        size += n;
    }
    if (::fsync(out.get()) != 0) return Fail(Errc::kIo, "io", Errno("fsync " + tmp));

    StoredImage img;
    img.sha256 = ToHex(hash.Final());
    img.size = size;
    img.path = dir.Image(img.sha256);
    if (FileExists(img.path)) {
        // Same bytes already stored (content addressed): keep the existing file.
        return img;  // cleanup removes the temp file
    }
    if (::rename(tmp.c_str(), img.path.c_str()) != 0) {
        return Fail(Errc::kIo, "io", Errno("renaming " + tmp));
    }
    cleanup.Commit();
    FW_TRY(SyncParentDir(img.path));
    img.created = true;
    return img;
}

}  // namespace

Expected<StoredImage> StoreImageFile(const DataDir& dir, const std::string& source) {
    Fd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return Fail(Errc::kNotFound, "no-image", Errno("opening image " + source));
    return Store(dir, [&](char* buf, std::size_t cap) -> Expected<std::size_t> {
        for (;;) {
            const ssize_t n = ::read(in.get(), buf, cap);
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) return Fail(Errc::kIo, "io", Errno("reading " + source));
        }
    });
}

Expected<StoredImage> StoreImageBytes(const DataDir& dir, std::string_view bytes) {
    std::size_t offset = 0;
    return Store(dir, [&](char* buf, std::size_t cap) -> Expected<std::size_t> {
        const std::size_t n = std::min(cap, bytes.size() - offset);
        std::memcpy(buf, bytes.data() + offset, n);
        offset += n;
        return n;
    });
}

Expected<FileLock> FileLock::Acquire(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Fail(Errc::kIo, "io", Errno("opening lock " + path));
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        const std::string msg = Errno("locking " + path);
        ::close(fd);
        return Fail(Errc::kIo, "io", msg);
    }
    return FileLock(fd);
}

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

Rollback::~Rollback() {
    if (committed_) return;
    for (auto it = actions_.rbegin(); it != actions_.rend(); ++it) (*it)();
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) ::unlink(it->c_str());
}

}  // namespace fwchain::vendor
