/// Limits the reader enforces beyond what the bytes themselves bound.
public enum GGUFLimits {
    /// Deepest nesting of metadata arrays accepted (an array of arrays is 2 levels).
    public static let maxArrayDepth = 4
    /// Most arrays accepted inside other arrays, in all metadata values of a file together.
    /// Each costs tens of bytes of memory for its 12 bytes in the file, and models use none
    /// (llama.cpp reads no nested arrays), so the limit keeps a file from multiplying its size in
    /// memory through them.
    public static let maxNestedArrays = 65536
    /// Longest tensor name accepted, in UTF-8 bytes (the GGUF specification's limit).
    public static let maxTensorNameBytes = 64
    /// Most tensor dimensions accepted (ggml's `GGML_MAX_DIMS`).
    public static let maxDimensions = 4
    /// Largest `general.alignment` accepted, in bytes.
    public static let maxAlignment = 65536
    /// Alignment used when the file has no `general.alignment` key, in bytes.
    public static let defaultAlignment = 32
    /// Fewest bytes one key/value pair can occupy: key length (8) + type (4) + a 1-byte value.
    static let minKVBytes = 13
    /// Fewest bytes one tensor info can occupy: name length (8) + n_dims (4) + one dimension (8)
    /// + type (4) + offset (8).
    static let minTensorInfoBytes = 32
}

/// The result of parsing: everything `GGUFFile` stores.
struct ParsedGGUF {
    var version: UInt32
    var alignment: Int
    var metadata: [String: GGUFValue]
    var metadataKeys: [String]
    var tensors: [GGUFTensorInfo]
    var tensorIndex: [String: Int]
    var dataOffset: Int
}

/// A bounds-checked, little-endian cursor over untrusted bytes that parses a whole GGUF file.
///
/// Every read checks the remaining length first; every count is bounded by the bytes that remain
/// before anything is allocated for it. Errors carry the absolute offset of the field at fault.
struct GGUFParser {
    let base: UnsafeRawPointer?
    let size: Int
    let path: String
    private(set) var pos = 0
    /// Arrays read so far inside other arrays (at most `GGUFLimits.maxNestedArrays`).
    private var nestedArrays = 0

    init(base: UnsafeRawPointer?, size: Int, path: String) {
        self.base = base
        self.size = size
        self.path = path
    }

    private var remaining: Int { size - pos }

    private func fail(_ offset: Int?, _ field: String?, _ message: String) -> GGUFError {
        GGUFError(path: path, offset: offset, field: field, message: message)
    }

    // MARK: Primitive reads

    private func need(_ n: Int, _ field: @autoclosure () -> String) throws(GGUFError) {
        guard n <= size - pos else {
            throw fail(pos, field(), "unexpected end of file: needs \(n) bytes, only \(size - pos) remain (file truncated?)")
        }
    }

    private mutating func u8(_ field: @autoclosure () -> String) throws(GGUFError) -> UInt8 {
        try need(1, field())
        let v = base!.load(fromByteOffset: pos, as: UInt8.self)
        pos += 1
        return v
    }

    private mutating func u16(_ field: @autoclosure () -> String) throws(GGUFError) -> UInt16 {
        try need(2, field())
        let v = UInt16(littleEndian: base!.loadUnaligned(fromByteOffset: pos, as: UInt16.self))
        pos += 2
        return v
    }

    private mutating func u32(_ field: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try need(4, field())
        let v = UInt32(littleEndian: base!.loadUnaligned(fromByteOffset: pos, as: UInt32.self))
        pos += 4
        return v
    }

    private mutating func u64(_ field: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try need(8, field())
        let v = UInt64(littleEndian: base!.loadUnaligned(fromByteOffset: pos, as: UInt64.self))
        pos += 8
        return v
    }

    /// Hex dump of up to 16 bytes at `offset` for error messages.
    private func hexPreview(at offset: Int, count: Int) -> String {
        let n = min(count, 16, size - offset)
        guard n > 0 else { return "" }
        var parts: [String] = []
        for i in 0..<n {
            let b = base!.load(fromByteOffset: offset + i, as: UInt8.self)
            parts.append((b < 16 ? "0" : "") + String(b, radix: 16))
        }
        return parts.joined(separator: " ") + (count > n ? " …" : "")
    }

    /// Reads a GGUF string: a `u64` byte length, then that many bytes of UTF-8 (no terminator).
    /// The length is checked against the remaining bytes and the text is validated in place.
    private mutating func string(_ field: @autoclosure () -> String) throws(GGUFError) -> String {
        let lengthPos = pos
        let length = try u64(field())
        guard length <= UInt64(remaining) else {
            throw fail(lengthPos, field(), "string length \(length) exceeds the \(remaining) bytes remaining in the file")
        }
        let n = Int(length)
        if n == 0 { return "" }
        let raw = UnsafeRawBufferPointer(start: base! + pos, count: n)
        let decoded = raw.withMemoryRebound(to: UInt8.self) { String(validating: $0, as: UTF8.self) }
        guard let s = decoded else {
            throw fail(pos, field(), "string of \(n) bytes is not valid UTF-8 (bytes: \(hexPreview(at: pos, count: n)))")
        }
        pos += n
        return s
    }

    /// Copies `count` fixed-width little-endian values (count already bounded) into an array.
    private mutating func bulk<T: FixedWidthInteger>(_ count: Int, _: T.Type) -> [T] {
        let byteCount = count * MemoryLayout<T>.size
        let start = base.map { $0 + pos }
        let out = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: start!, byteCount: byteCount)
            }
            initialized = count
        }
        pos += byteCount
        #if _endian(little)
        return out
        #else
        return out.map { T(littleEndian: $0) }
        #endif
    }

    // MARK: Metadata values

    private mutating func value(_ type: GGUFValueType, field: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try u8(field))
        case .int8: return .int8(Int8(bitPattern: try u8(field)))
        case .uint16: return .uint16(try u16(field))
        case .int16: return .int16(Int16(bitPattern: try u16(field)))
        case .uint32: return .uint32(try u32(field))
        case .int32: return .int32(Int32(bitPattern: try u32(field)))
        case .uint64: return .uint64(try u64(field))
        case .int64: return .int64(Int64(bitPattern: try u64(field)))
        case .float32: return .float32(Float(bitPattern: try u32(field)))
        case .float64: return .float64(Double(bitPattern: try u64(field)))
        case .bool:
            let at = pos
            let b = try u8(field)
            guard b <= 1 else { throw fail(at, field, "invalid bool value \(b) (must be 0 or 1)") }
            return .bool(b == 1)
        case .string: return .string(try string(field))
        case .array: return .array(try array(field: field, depth: depth + 1))
        }
    }

    /// Reads an array body (element type, count, elements). `depth` is 1 for a top-level array.
    private mutating func array(field: String, depth: Int) throws(GGUFError) -> GGUFArray {
        guard depth <= GGUFLimits.maxArrayDepth else {
            throw fail(pos, field, "arrays nested deeper than \(GGUFLimits.maxArrayDepth) levels")
        }
        let typePos = pos
        let rawType = try u32(field + " element type")
        guard let elementType = GGUFValueType(rawValue: rawType) else {
            throw fail(typePos, field, "unknown array element type \(rawType) (known types are 0...12)")
        }
        let countPos = pos
        let count64 = try u64(field + " array count")
        let minSize = elementType.minimumEncodedSize
        guard count64 <= UInt64(remaining / minSize) else {
            throw fail(countPos, field, "array count \(count64) of \(elementType.name) cannot fit in the \(remaining) bytes remaining (each element needs at least \(minSize))")
        }
        let count = Int(count64)
        switch elementType {
        case .uint8: return .uint8(bulk(count, UInt8.self))
        case .int8: return .int8(bulk(count, Int8.self))
        case .uint16: return .uint16(bulk(count, UInt16.self))
        case .int16: return .int16(bulk(count, Int16.self))
        case .uint32: return .uint32(bulk(count, UInt32.self))
        case .int32: return .int32(bulk(count, Int32.self))
        case .uint64: return .uint64(bulk(count, UInt64.self))
        case .int64: return .int64(bulk(count, Int64.self))
        case .float32: return .float32(bulk(count, UInt32.self).map { Float(bitPattern: $0) })
        case .float64: return .float64(bulk(count, UInt64.self).map { Double(bitPattern: $0) })
        case .bool:
            let start = pos
            let raw = bulk(count, UInt8.self)
            if let bad = raw.firstIndex(where: { $0 > 1 }) {
                throw fail(start + bad, "\(field)[\(bad)]", "invalid bool value \(raw[bad]) (must be 0 or 1)")
            }
            return .bool(raw.map { $0 == 1 })
        case .string:
            var out: [String] = []
            out.reserveCapacity(count)  // bounded above by remaining / 8
            for i in 0..<count {
                out.append(try string("\(field)[\(i)]"))
            }
            return .string(out)
        case .array:
            guard count <= GGUFLimits.maxNestedArrays - nestedArrays else {
                throw fail(countPos, field, "array of \(count) arrays: with the \(nestedArrays) nested arrays before it, the file's metadata would hold more than \(GGUFLimits.maxNestedArrays)")
            }
            nestedArrays += count
            var out: [GGUFValue] = []
            out.reserveCapacity(count)  // bounded above by remaining / 12
            for i in 0..<count {
                out.append(.array(try array(field: "\(field)[\(i)]", depth: depth + 1)))
            }
            return .nested(out)
        }
    }

    // MARK: Whole file

    mutating func parse() throws(GGUFError) -> ParsedGGUF {
        // Header: magic, version, tensor_count, kv_count.
        guard size >= 4 else {
            throw fail(0, "header.magic", "unexpected end of file: the file is \(size) bytes, too short for a GGUF header")
        }
        let magic = [0, 1, 2, 3].map { base!.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == Array("GGUF".utf8) else {
            let text = String(decoding: magic.map { (0x20...0x7e).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            throw fail(0, "header.magic", "not a GGUF file: magic is \(hexPreview(at: 0, count: 4)) (\"\(text)\"), expected 47 47 55 46 (\"GGUF\")")
        }
        pos = 4
        let version = try u32("header.version")
        switch version {
        case 2, 3:
            break
        case 1:
            throw fail(4, "header.version", "GGUF version 1 is not supported (it uses 32-bit counts and lengths); only versions 2 and 3 are")
        case _ where version.byteSwapped == 2 || version.byteSwapped == 3:
            throw fail(4, "header.version", "version \(version) is a byte-swapped \(version.byteSwapped): big-endian GGUF files are not supported")
        default:
            throw fail(4, "header.version", "unsupported GGUF version \(version); only versions 2 and 3 are supported")
        }

        let tensorCountPos = pos
        let tensorCount64 = try u64("header.tensor_count")
        let kvCountPos = pos
        let kvCount64 = try u64("header.kv_count")
        guard kvCount64 <= UInt64(remaining / GGUFLimits.minKVBytes) else {
            throw fail(kvCountPos, "header.kv_count", "\(kvCount64) key/value pairs cannot fit in the \(remaining) bytes remaining (each needs at least \(GGUFLimits.minKVBytes))")
        }
        guard tensorCount64 <= UInt64(remaining / GGUFLimits.minTensorInfoBytes) else {
            throw fail(tensorCountPos, "header.tensor_count", "\(tensorCount64) tensor infos cannot fit in the \(remaining) bytes remaining (each needs at least \(GGUFLimits.minTensorInfoBytes))")
        }
        let kvCount = Int(kvCount64), tensorCount = Int(tensorCount64)
        guard kvCount * GGUFLimits.minKVBytes + tensorCount * GGUFLimits.minTensorInfoBytes <= remaining else {
            throw fail(tensorCountPos, "header", "\(kvCount) key/value pairs and \(tensorCount) tensor infos cannot fit in the \(remaining) bytes remaining")
        }

        // Key/value pairs.
        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(kvCount)
        var keys: [String] = []
        keys.reserveCapacity(kvCount)
        var alignment = GGUFLimits.defaultAlignment
        for i in 0..<kvCount {
            let keyPos = pos
            let key = try string("metadata key #\(i)")
            guard !key.isEmpty else { throw fail(keyPos, "metadata key #\(i)", "empty key") }
            let field = "key '\(GGUFValue.clipped(key))'"
            guard metadata[key] == nil else {
                throw fail(keyPos, field, "duplicate key '\(GGUFValue.clipped(key))' (metadata key #\(i) repeats an earlier key)")
            }
            let typePos = pos
            let rawType = try u32(field + " type")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw fail(typePos, field, "unknown metadata value type \(rawType) (known types are 0...12)")
            }
            let valuePos = pos
            let value = try value(type, field: field, depth: 0)
            if key == "general.alignment" {
                guard case .uint32(let a) = value else {
                    throw fail(typePos, field, "general.alignment must be uint32, found \(value.typeName)")
                }
                guard a >= 1, a <= GGUFLimits.maxAlignment, a & (a - 1) == 0 else {
                    throw fail(valuePos, field, "alignment \(a) is not a power of two in 1...\(GGUFLimits.maxAlignment)")
                }
                alignment = Int(a)
            }
            metadata[key] = value
            keys.append(key)
        }

        // Tensor infos.
        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var tensorIndex: [String: Int] = [:]
        tensorIndex.reserveCapacity(tensorCount)
        var rawOffsets: [(value: UInt64, fieldPos: Int)] = []
        rawOffsets.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let namePos = pos
            let name = try string("tensor #\(i) name")
            guard !name.isEmpty else { throw fail(namePos, "tensor #\(i) name", "empty tensor name") }
            guard name.utf8.count <= GGUFLimits.maxTensorNameBytes else {
                throw fail(namePos, "tensor #\(i) name", "tensor name of \(name.utf8.count) bytes is longer than \(GGUFLimits.maxTensorNameBytes) bytes")
            }
            guard tensorIndex[name] == nil else {
                throw fail(namePos, "tensor '\(name)'", "duplicate tensor name '\(name)' (tensor #\(i) repeats an earlier tensor)")
            }
            let nDimsPos = pos
            let nDims = try u32("tensor '\(name)' n_dims")
            guard nDims >= 1, nDims <= UInt32(GGUFLimits.maxDimensions) else {
                throw fail(nDimsPos, "tensor '\(name)' n_dims", "n_dims \(nDims) is not in 1...\(GGUFLimits.maxDimensions)")
            }
            var dims: [Int] = []
            dims.reserveCapacity(Int(nDims))
            var elementCount = 1
            var overflow = false
            for d in 0..<Int(nDims) {
                let dimPos = pos
                let dim = try u64("tensor '\(name)' dimension \(d)")
                guard dim >= 1 else {
                    throw fail(dimPos, "tensor '\(name)' dimensions", "dimension \(d) is 0 (every dimension must be at least 1)")
                }
                guard dim <= UInt64(Int.max) else {
                    throw fail(dimPos, "tensor '\(name)' dimensions", "dimension \(d) is \(dim), too large")
                }
                dims.append(Int(dim))
                if !overflow {
                    let (p, o) = elementCount.multipliedReportingOverflow(by: Int(dim))
                    elementCount = p
                    overflow = o
                }
            }
            guard !overflow else {
                throw fail(nDimsPos, "tensor '\(name)' dimensions", "element count of dimensions \(dims) overflows")
            }
            let typePos = pos
            let rawType = try u32("tensor '\(name)' type")
            guard let type = GGMLType(rawValue: rawType) else {
                let known = GGMLType.ggmlName(of: rawType).map { "unsupported tensor type \(rawType) (\($0))" }
                    ?? "unknown tensor type \(rawType)"
                let supported = GGMLType.allCases.map(\.name).joined(separator: ", ")
                throw fail(typePos, "tensor '\(name)' type", "\(known); supported types are \(supported)")
            }
            guard dims[0] % type.blockElements == 0 else {
                throw fail(nDimsPos + 4, "tensor '\(name)' dimensions",
                           "dimension 0 (\(dims[0])) is not a multiple of the \(type.name) block size \(type.blockElements)")
            }
            guard let byteCount = type.byteCount(elements: elementCount) else {
                throw fail(nDimsPos, "tensor '\(name)' dimensions", "byte count of \(elementCount) \(type.name) elements overflows")
            }
            let offsetPos = pos
            let offset = try u64("tensor '\(name)' offset")
            guard offset % UInt64(alignment) == 0 else {
                throw fail(offsetPos, "tensor '\(name)' offset", "\(offset) is not a multiple of the alignment \(alignment)")
            }
            // The offset is range-checked once the data section's start is known; until then
            // it is stored clamped (a clamped value is always rejected below).
            rawOffsets.append((offset, offsetPos))
            tensorIndex[name] = i
            tensors.append(GGUFTensorInfo(name: name, dimensions: dims, type: type,
                                          offset: Int(clamping: offset), elementCount: elementCount, byteCount: byteCount))
        }

        // Data section: header end rounded up to the alignment, inside the file.
        let headerEnd = pos
        let (padded, padOverflow) = headerEnd.addingReportingOverflow(alignment - 1)
        let dataOffset = padded & ~(alignment - 1)
        guard !padOverflow, dataOffset <= size else {
            throw fail(headerEnd, "data section",
                       "starts at byte \(dataOffset) (header end \(headerEnd) rounded up to the alignment \(alignment)), past the end of the file (\(size) bytes)")
        }
        let dataSize = size - dataOffset
        for (i, t) in tensors.enumerated() {
            let raw = rawOffsets[i]
            guard raw.value < UInt64(dataSize) else {
                throw fail(raw.fieldPos, "tensor '\(t.name)' offset",
                           "\(raw.value) is past the end of the file (\(size) bytes; the data section starts at byte \(dataOffset) and holds \(dataSize) bytes)")
            }
            guard t.byteCount <= dataSize - t.offset else {
                throw fail(raw.fieldPos, "tensor '\(t.name)' data",
                           "\(t.byteCount) bytes at offset \(t.offset) extend past the end of the file (\(size) bytes): they would end at byte \(dataOffset + t.offset + t.byteCount)")
            }
        }
        let order = tensors.indices.sorted { (tensors[$0].offset, $0) < (tensors[$1].offset, $1) }
        for k in order.indices.dropFirst() {
            let prev = tensors[order[k - 1]], cur = tensors[order[k]]
            if cur.offset < prev.offset + prev.byteCount {
                throw fail(rawOffsets[order[k]].fieldPos, "tensor '\(cur.name)' offset",
                           "data [\(cur.offset), \(cur.offset + cur.byteCount)) overlaps tensor '\(prev.name)' data [\(prev.offset), \(prev.offset + prev.byteCount))")
            }
        }

        return ParsedGGUF(version: version, alignment: alignment, metadata: metadata, metadataKeys: keys,
                          tensors: tensors, tensorIndex: tensorIndex, dataOffset: dataOffset)
    }
}
