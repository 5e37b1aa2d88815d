#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `write(2)`, out of reach of `GGUFWriter.write(to:)`'s name.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, p, n)
}

/// Builds a GGUF v2/v3 file in memory: metadata in insertion order, then tensors laid out in
/// the order added, each at an offset that is a multiple of `alignment`.
///
/// The output always passes `GGUFFile`'s checks when the preconditions below hold. Layout: the
/// tensor-info table is padded with zeros to `alignment`; each tensor's data is followed by zero
/// padding to the next multiple of `alignment` (including the last, as llama.cpp writes it).
public struct GGUFWriter: Sendable {
    private struct PendingTensor: Sendable {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        var data: [UInt8]
    }

    /// Format version written to the header (2 or 3; the layout is identical).
    public private(set) var version: UInt32
    /// Data alignment in bytes. When not 32 it is recorded as `general.alignment` (uint32).
    public private(set) var alignment: Int
    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    /// Arrays inside other arrays over all values set (the reader's `GGUFLimits.maxNestedArrays`).
    private var nestedArrays = 0
    private var pending: [PendingTensor] = []
    private var tensorNames: Set<String> = []

    /// - Parameters:
    ///   - version: 2 or 3.
    ///   - alignment: a power of two in 1...65536 (bytes). A value other than 32 is stored
    ///     immediately as the first key, `general.alignment`.
    public init(version: UInt32 = 3, alignment: Int = 32) {
        precondition(version == 2 || version == 3, "GGUFWriter writes versions 2 and 3 only, not \(version)")
        precondition(Self.isValidAlignment(alignment), "alignment \(alignment) is not a power of two in 1...65536")
        self.version = version
        self.alignment = alignment
        if alignment != GGUFLimits.defaultAlignment {
            set("general.alignment", .uint32(UInt32(alignment)))
        }
    }

    private static func isValidAlignment(_ a: Int) -> Bool {
        a >= 1 && a <= GGUFLimits.maxAlignment && a & (a - 1) == 0
    }

    /// Sets a metadata key. A new key goes after the existing ones; an existing key keeps its
    /// position and gets the new value.
    ///
    /// Setting `"general.alignment"` to a `.uint32` power of two in 1...65536 also changes
    /// `alignment`.
    /// - Precondition: `key` is not empty; a `"general.alignment"` value is as above; nested
    ///   arrays hold only `.array` elements and are at most `GGUFLimits.maxArrayDepth` deep; all
    ///   values set hold at most `GGUFLimits.maxNestedArrays` arrays inside other arrays together
    ///   (so that the reader accepts what the writer writes).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        precondition(!key.isEmpty, "GGUF metadata keys must not be empty")
        if key == "general.alignment" {
            guard case .uint32(let a) = value, Self.isValidAlignment(Int(a)) else {
                preconditionFailure("general.alignment must be a uint32 power of two in 1...65536, got \(value)")
            }
            alignment = Int(a)
        }
        precondition(Self.arrayDepth(value) <= GGUFLimits.maxArrayDepth,
                     "key '\(key)': arrays nested deeper than \(GGUFLimits.maxArrayDepth) levels")
        let nested = nestedArrays - (values[key].map(Self.nestedArrayCount) ?? 0) + Self.nestedArrayCount(value)
        precondition(nested <= GGUFLimits.maxNestedArrays,
                     "key '\(key)': the metadata would hold \(nested) arrays inside other arrays, more than \(GGUFLimits.maxNestedArrays)")
        nestedArrays = nested
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Arrays inside other arrays in `v`, at any depth (as the reader counts them).
    private static func nestedArrayCount(_ v: GGUFValue) -> Int {
        guard case .array(.nested(let xs)) = v else { return 0 }
        return xs.reduce(xs.count) { $0 + nestedArrayCount($1) }
    }

    private static func arrayDepth(_ v: GGUFValue) -> Int {
        guard case .array(let a) = v else { return 0 }
        if case .nested(let xs) = a { return 1 + (xs.map(arrayDepth).max() ?? 0) }
        return 1
    }

    /// Adds a tensor; tensors are laid out in the order added.
    ///
    /// - Parameters:
    ///   - dimensions: ggml `ne[]`, fastest-varying first (1...4 entries, each ≥ 1;
    ///     `dimensions[0]` a multiple of `type.blockElements`).
    ///   - data: the tensor's bytes in ggml block layout.
    /// - Precondition: the name is 1...64 UTF-8 bytes and not already used, the dimensions are as
    ///   above, and `data.count == type.byteCount(elements: product of dimensions)`.
    public mutating func addTensor(name: String, dimensions: [Int], type: GGMLType, data: [UInt8]) {
        precondition(!name.isEmpty && name.utf8.count <= GGUFLimits.maxTensorNameBytes,
                     "tensor name '\(name)' must be 1...\(GGUFLimits.maxTensorNameBytes) bytes")
        precondition(!tensorNames.contains(name), "duplicate tensor name '\(name)'")
        precondition((1...GGUFLimits.maxDimensions).contains(dimensions.count) && dimensions.allSatisfy { $0 >= 1 },
                     "tensor '\(name)': dimensions \(dimensions) must be 1...4 values, each at least 1")
        precondition(dimensions[0] % type.blockElements == 0,
                     "tensor '\(name)': dimension 0 (\(dimensions[0])) is not a multiple of the \(type.name) block size \(type.blockElements)")
        var elements = 1
        for d in dimensions {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            precondition(!o, "tensor '\(name)': element count of \(dimensions) overflows")
            elements = p
        }
        let expected = type.byteCount(elements: elements)
        precondition(expected == data.count,
                     "tensor '\(name)': \(data.count) data bytes given, \(type.name) \(dimensions) needs \(expected.map(String.init) ?? "too many")")
        tensorNames.insert(name)
        pending.append(PendingTensor(name: name, dimensions: dimensions, type: type, data: data))
    }

    /// The field-by-field description of the file this writer produces.
    var raw: RawGGUF {
        var raw = RawGGUF()
        raw.version = version
        raw.headerPadding = alignment
        raw.kvs = keys.map { RawGGUF.KV($0, values[$0]!) }
        var data = GGUFByteBuffer()
        for t in pending {
            raw.tensors.append(RawGGUF.TensorInfo(name: Array(t.name.utf8), dims: t.dimensions.map { UInt64($0) },
                                                  type: t.type.rawValue, offset: UInt64(data.bytes.count)))
            data.bytes.append(contentsOf: t.data)
            data.pad(to: alignment)
        }
        raw.data = data.bytes
        return raw
    }

    /// The complete file as bytes.
    public func serialize() -> [UInt8] {
        raw.encoded()
    }

    /// Writes the file to `path`, replacing any existing file. The bytes go to a temporary file
    /// next to `path` that is renamed over it once complete.
    ///
    /// - Throws: `GGUFError` (with `path`) if the file cannot be created, written or renamed, or
    ///   if `path` is not a regular file (a device, a FIFO: the rename would replace it).
    public func write(to path: String) throws {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw GGUFError(path: path, offset: nil, field: nil, message: "not a regular file; the model would replace it, not be written to it")
        }
        let bytes = serialize()
        let tmp = path + ".tmp-\(getpid())"
        func osError(_ what: String, _ code: Int32) -> GGUFError {
            GGUFError(path: path, offset: nil, field: nil, message: "\(what): \(String(cString: strerror(code))) (errno \(code))")
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw osError("cannot create \(tmp)", errno) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                close(fd)
                unlink(tmp)
                throw osError("cannot write \(tmp)", code)
            }
            written += n
        }
        guard close(fd) == 0 else {
            let code = errno
            unlink(tmp)
            throw osError("cannot close \(tmp)", code)
        }
        guard rename(tmp, path) == 0 else {
            let code = errno
            unlink(tmp)
            throw osError("cannot rename \(tmp) to \(path)", code)
        }
    }
}
