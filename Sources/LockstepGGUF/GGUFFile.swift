#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes a `GGUFFile` reads from: a read-only memory map, or a private heap copy.
struct GGUFRegion {
    enum Kind { case mapped, heap, empty }
    let base: UnsafeRawPointer?
    let size: Int
    let kind: Kind

    /// Maps `path` read-only. The descriptor is closed before returning; the mapping stays valid.
    static func map(path: String) throws(GGUFError) -> GGUFRegion {
        func osError(_ what: String, _ code: Int32) -> GGUFError {
            GGUFError(path: path, offset: nil, field: nil, message: "\(what): \(String(cString: strerror(code))) (errno \(code))")
        }
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a regular file).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw osError("cannot open the file", errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw osError("cannot stat the file", errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError(path: path, offset: nil, field: nil, message: "not a regular file")
        }
        guard let size = Int(exactly: st.st_size), size >= 0 else {
            throw GGUFError(path: path, offset: nil, field: nil, message: "file size \(st.st_size) is not usable")
        }
        if size == 0 { return GGUFRegion(base: nil, size: 0, kind: .empty) }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else { throw osError("cannot map the file", errno) }
        return GGUFRegion(base: UnsafeRawPointer(p), size: size, kind: .mapped)
    }

    /// Copies `bytes` into a 64-byte-aligned heap block, so tensor data is as aligned as the
    /// file's `general.alignment` (up to 64) promises.
    static func copy(_ bytes: [UInt8]) -> GGUFRegion {
        if bytes.isEmpty { return GGUFRegion(base: nil, size: 0, kind: .empty) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return GGUFRegion(base: UnsafeRawPointer(p), size: bytes.count, kind: .heap)
    }

    func release() {
        guard let base else { return }
        switch kind {
        case .mapped: munmap(UnsafeMutableRawPointer(mutating: base), size)
        case .heap: UnsafeMutableRawPointer(mutating: base).deallocate()
        case .empty: break
        }
    }
}

/// A parsed, fully validated GGUF v2/v3 file.
///
/// Opening a file checks every count, length, offset, alignment and shape against the file
/// before use (see `GGUFError` for what a rejection looks like), so a `GGUFFile` that exists is
/// internally consistent: every tensor's data lies inside the file, aligned, without overlaps.
///
/// The object is immutable after `init` and safe to share between threads. Files opened with
/// `init(path:)` are memory-mapped read-only (not copied); the mapping is removed in `deinit`.
/// If another process truncates a mapped file while it is open, touching the lost pages raises
/// `SIGBUS` — that is the nature of `mmap`; copy the bytes and use `init(bytes:name:)` if the
/// file cannot be trusted to stay put.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened from, or the `name` passed to `init(bytes:name:)`.
    public let path: String
    /// GGUF format version: 2 or 3.
    public let version: UInt32
    /// Data alignment in bytes (`general.alignment`, default 32): a power of two in 1...65536.
    public let alignment: Int
    /// Size of the whole file in bytes.
    public let fileSize: Int
    /// All metadata key/value pairs.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Absolute byte offset of the data section: the end of the tensor-info table rounded up to
    /// `alignment`. Each tensor's data starts at `dataOffset + tensor.offset`.
    public let dataOffset: Int

    private let region: GGUFRegion
    private let tensorIndex: [String: Int]

    private init(region: GGUFRegion, parsed: ParsedGGUF, path: String) {
        self.region = region
        self.path = path
        self.fileSize = region.size
        self.version = parsed.version
        self.alignment = parsed.alignment
        self.metadata = parsed.metadata
        self.metadataKeys = parsed.metadataKeys
        self.tensors = parsed.tensors
        self.tensorIndex = parsed.tensorIndex
        self.dataOffset = parsed.dataOffset
    }

    /// Opens and validates the GGUF file at `path`, memory-mapping it read-only.
    ///
    /// - Throws: `GGUFError` if the file cannot be opened or mapped, or if any part of it is
    ///   malformed, truncated, or uses an unsupported version, value type or tensor type.
    public convenience init(path: String) throws(GGUFError) {
        let region = try GGUFRegion.map(path: path)
        self.init(region: region, parsed: try Self.parse(region, path: path), path: path)
    }

    /// Parses and validates a GGUF file held in memory. The bytes are copied.
    ///
    /// - Parameter name: used as `path` and in error messages.
    /// - Throws: `GGUFError` if the bytes are not a well-formed GGUF v2/v3 file.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws(GGUFError) {
        let region = GGUFRegion.copy(bytes)
        self.init(region: region, parsed: try Self.parse(region, path: name), path: name)
    }

    /// Parses the bytes of `region`; releases the region when they are not a well-formed file.
    private static func parse(_ region: GGUFRegion, path: String) throws(GGUFError) -> ParsedGGUF {
        do throws(GGUFError) {
            var parser = GGUFParser(base: region.base, size: region.size, path: path)
            return try parser.parse()
        } catch {
            region.release()
            throw error
        }
    }

    deinit {
        region.release()
    }

    /// The tensor info named `named`, or `nil` if the file has no such tensor.
    public func tensor(named: String) -> GGUFTensorInfo? {
        tensorIndex[named].map { tensors[$0] }
    }

    /// The raw bytes of a tensor's data (`tensor.byteCount` bytes, in the file's block layout).
    ///
    /// The buffer points into this file's memory and is valid only while this `GGUFFile` is alive.
    /// - Precondition: `tensor` lies inside this file's data section (true of every element of
    ///   `tensors`).
    public func data(for tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let dataSize = fileSize - dataOffset
        precondition(tensor.offset >= 0 && tensor.byteCount >= 0 && tensor.offset <= dataSize
                     && tensor.byteCount <= dataSize - tensor.offset,
                     "tensor '\(tensor.name)' does not lie inside the data section of \(path)")
        return UnsafeRawBufferPointer(start: region.base! + dataOffset + tensor.offset, count: tensor.byteCount)
    }

    /// Calls `body` with the bytes of the whole file (`fileSize` bytes). The buffer must not
    /// escape `body`.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: region.base, count: region.size))
    }
}
