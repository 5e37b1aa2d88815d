import XCTest
@testable import LockstepGGUF

final class GGUFRoundTripTests: XCTestCase {
    /// One value of every scalar type, extremes included.
    static let scalars: [(String, GGUFValue)] = [
        ("s.uint8", .uint8(255)), ("s.int8", .int8(-128)),
        ("s.uint16", .uint16(65535)), ("s.int16", .int16(-32768)),
        ("s.uint32", .uint32(.max)), ("s.int32", .int32(.min)),
        ("s.uint64", .uint64(.max)), ("s.int64", .int64(.min)),
        ("s.float32", .float32(-0.0)), ("s.float32.inf", .float32(.infinity)),
        ("s.float32.sub", .float32(.leastNonzeroMagnitude)),
        ("s.float64", .float64(.pi)), ("s.float64.max", .float64(.greatestFiniteMagnitude)),
        ("s.bool.true", .bool(true)), ("s.bool.false", .bool(false)),
        ("s.string", .string("Grüße, 世界 🦙 \u{0}nul")), ("s.string.empty", .string("")),
    ]

    /// One array of every element type, plus empty and nested arrays.
    static let arrays: [(String, GGUFValue)] = [
        ("a.uint8", .array(.uint8([0, 1, 255]))), ("a.int8", .array(.int8([-128, 0, 127]))),
        ("a.uint16", .array(.uint16([0, 65535]))), ("a.int16", .array(.int16([-32768, 32767]))),
        ("a.uint32", .array(.uint32([0, .max]))), ("a.int32", .array(.int32([.min, -1, .max]))),
        ("a.uint64", .array(.uint64([0, .max]))), ("a.int64", .array(.int64([.min, .max]))),
        ("a.float32", .array(.float32([1.5, -0.0, .infinity]))), ("a.float64", .array(.float64([.pi, -1e300]))),
        ("a.bool", .array(.bool([true, false, true]))),
        ("a.string", .array(.string(["", "a", "ü", String(repeating: "x", count: 1000)]))),
        ("a.empty.uint8", .array(.uint8([]))), ("a.empty.string", .array(.string([]))),
        ("a.empty.nested", .array(.nested([]))),
        ("a.nested", .array(.nested([.array(.int32([1, 2])), .array(.string(["x"])), .array(.bool([]))]))),
        ("a.nested4", .array(.nested([.array(.nested([.array(.nested([.array(.float64([1, 2]))]))]))]))),
    ]

    static func tensorData(_ type: GGMLType, _ dims: [Int], seed: UInt64) -> [UInt8] {
        patternBytes(type.byteCount(elements: dims.reduce(1, *))!, seed: seed)
    }

    func roundTrip(version: UInt32, alignment: Int) throws {
        var w = GGUFWriter(version: version, alignment: alignment)
        let kvs = Self.scalars + Self.arrays
        for (k, v) in kvs { w.set(k, v) }
        let shapes: [(String, [Int], GGMLType)] = [
            ("f32.vec", [3], .f32), ("f16.mat", [5, 3], .f16), ("bf16.t3", [2, 3, 4], .bf16),
            ("q4_0.mat", [64, 3], .q4_0), ("q4_1.t4", [32, 2, 1, 2], .q4_1), ("q8_0.mat", [96, 2], .q8_0),
        ]
        var data: [String: [UInt8]] = [:]
        for (i, (name, dims, type)) in shapes.enumerated() {
            data[name] = Self.tensorData(type, dims, seed: UInt64(i))
            w.addTensor(name: name, dimensions: dims, type: type, data: data[name]!)
        }
        let bytes = w.serialize()
        let f = try GGUFFile(bytes: bytes, name: "rt.gguf")
        checkInvariants(f)
        XCTAssertEqual(f.version, version)
        XCTAssertEqual(f.alignment, alignment)
        XCTAssertEqual(f.fileSize, bytes.count)
        XCTAssertEqual(f.path, "rt.gguf")
        let expectedKeys = (alignment == 32 ? [] : ["general.alignment"]) + kvs.map(\.0)
        XCTAssertEqual(f.metadataKeys, expectedKeys)
        for (k, v) in kvs {
            XCTAssertEqual(f.metadata[k], v, k)
            XCTAssertEqual(f.metadata[k]?.typeName, v.typeName, k)
        }
        if alignment != 32 { XCTAssertEqual(f.metadata["general.alignment"], .uint32(UInt32(alignment))) }
        XCTAssertEqual(f.tensors.map(\.name), shapes.map(\.0))
        for (name, dims, type) in shapes {
            let t = try XCTUnwrap(f.tensor(named: name))
            XCTAssertEqual(t.dimensions, dims)
            XCTAssertEqual(t.type, type)
            XCTAssertEqual(t.elementCount, dims.reduce(1, *))
            XCTAssertEqual(t.byteCount, data[name]!.count)
            XCTAssertEqual(Array(f.data(for: t)), data[name]!)
            // Absolute data addresses honour the alignment (the heap copy is 64-byte aligned).
            let address = Int(bitPattern: f.data(for: t).baseAddress!)
            XCTAssertEqual(address % min(alignment, 64), 0, name)
        }
        XCTAssertNil(f.tensor(named: "missing"))
        // Re-serialising what was read gives the same bytes.
        var w2 = GGUFWriter(version: version, alignment: alignment)
        for k in f.metadataKeys { w2.set(k, f.metadata[k]!) }
        for t in f.tensors { w2.addTensor(name: t.name, dimensions: t.dimensions, type: t.type, data: Array(f.data(for: t))) }
        XCTAssertEqual(w2.serialize(), bytes)
    }

    func testRoundTripVersion3() throws { try roundTrip(version: 3, alignment: 32) }
    func testRoundTripVersion2() throws { try roundTrip(version: 2, alignment: 32) }
    func testRoundTripAlignment1() throws { try roundTrip(version: 3, alignment: 1) }
    func testRoundTripAlignment8() throws { try roundTrip(version: 2, alignment: 8) }
    func testRoundTripAlignment64() throws { try roundTrip(version: 3, alignment: 64) }
    func testRoundTripAlignment4096() throws { try roundTrip(version: 3, alignment: 4096) }
    func testRoundTripAlignment65536() throws { try roundTrip(version: 3, alignment: 65536) }

    func testEmptyFile() throws {
        let f = try GGUFFile(bytes: GGUFWriter().serialize())
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.metadataKeys, [])
        XCTAssertEqual(f.tensors, [])
        XCTAssertEqual(f.dataOffset, 32)
        XCTAssertEqual(f.fileSize, 32)
        XCTAssertEqual(f.path, "<memory>")
    }

    func testHeaderLayout() {
        var w = GGUFWriter(version: 2)
        w.set("k", .uint8(7))
        let b = w.serialize()
        XCTAssertEqual(Array(b[0..<4]), Array("GGUF".utf8))
        XCTAssertEqual(Array(b[4..<8]), [2, 0, 0, 0])
        XCTAssertEqual(Array(b[8..<16]), [0, 0, 0, 0, 0, 0, 0, 0])  // tensor_count
        XCTAssertEqual(Array(b[16..<24]), [1, 0, 0, 0, 0, 0, 0, 0])  // kv_count
        // key length, key, value type (0 = uint8), value
        XCTAssertEqual(Array(b[24..<38]), [1, 0, 0, 0, 0, 0, 0, 0, UInt8(ascii: "k"), 0, 0, 0, 0, 7])
        XCTAssertEqual(b.count, 64)
        XCTAssert(b[38...].allSatisfy { $0 == 0 })
    }

    func testSetReplacesInPlaceAndKeepsOrder() throws {
        var w = GGUFWriter()
        w.set("b", .uint32(1))
        w.set("a", .string("x"))
        w.set("c", .bool(false))
        w.set("b", .string("replaced"))
        let f = try GGUFFile(bytes: w.serialize())
        XCTAssertEqual(f.metadataKeys, ["b", "a", "c"])
        XCTAssertEqual(f.metadata["b"], .string("replaced"))
    }

    /// The writer's limit on arrays inside arrays is the reader's: a file at the limit, its
    /// arrays split over two keys and one of them replaced, reads back whole.
    func testNestedArraysUpToTheReadersLimitRoundTrip() throws {
        let half = GGUFLimits.maxNestedArrays / 2
        let leaves = GGUFValue.array(.nested(Array(repeating: .array(.uint8([])), count: half - 1)))
        var w = GGUFWriter()
        w.set("a", .array(.nested([leaves])))                      // half arrays inside arrays
        w.set("b", .array(.nested(Array(repeating: .array(.bool([])), count: 7))))
        w.set("b", .array(.nested(Array(repeating: .array(.int8([1])), count: half))))   // replaces 7 by half
        let f = try GGUFFile(bytes: w.serialize())
        guard case .array(.nested(let a))? = f.metadata["a"], case .array(.nested(let inner))? = a.first,
              case .array(.nested(let b))? = f.metadata["b"] else { return XCTFail("nested arrays not read back") }
        XCTAssertEqual(1 + inner.count + b.count, GGUFLimits.maxNestedArrays)
    }

    func testSettingAlignmentKeyChangesLayout() throws {
        var w = GGUFWriter()
        w.set("general.alignment", .uint32(256))
        w.addTensor(name: "x", dimensions: [3], type: .f32, data: patternBytes(12, seed: 1))
        w.addTensor(name: "y", dimensions: [1], type: .f32, data: patternBytes(4, seed: 2))
        XCTAssertEqual(w.alignment, 256)
        let f = try GGUFFile(bytes: w.serialize())
        XCTAssertEqual(f.alignment, 256)
        XCTAssertEqual(f.dataOffset, 256)
        XCTAssertEqual(f.tensors.map(\.offset), [0, 256])
        XCTAssertEqual(f.fileSize, 256 * 3)  // the last tensor is padded too
    }

    func testWriteToPathAndMemoryMap() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        let payload = patternBytes(32 * 34, seed: 9)
        w.addTensor(name: "q", dimensions: [32, 32], type: .q8_0, data: Array(payload.prefix(32 * 34)))
        let path = temporaryPath("write.gguf")
        defer { unlink(path) }
        try w.write(to: path)
        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.path, path)
        XCTAssertEqual(f.metadata["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(Array(f.data(for: f.tensors[0])), Array(payload.prefix(32 * 34)))
        XCTAssertEqual(f.withBytes { Array($0) }, w.serialize())
        // mmap'd data is page-aligned, hence aligned as the file promises.
        XCTAssertEqual(Int(bitPattern: f.data(for: f.tensors[0]).baseAddress!) % 32, 0)
        // Overwriting an existing file works.
        try GGUFWriter(version: 2).write(to: path)
        XCTAssertEqual(try GGUFFile(path: path).version, 2)
    }

    func testWriteToUnwritablePathThrows() {
        XCTAssertThrowsError(try GGUFWriter().write(to: "/nonexistent-dir-lockstep/x.gguf")) { error in
            XCTAssert("\(error)".contains("cannot create"), "\(error)")
        }
        // A FIFO would be replaced by the rename, not written to: refused and left as it was.
        let dir = NSTemporaryDirectory() + "lockstep-gguf-fifo-\(getpid())"
        XCTAssertNoThrow(try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/m.gguf"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try GGUFWriter().write(to: fifo)) { error in
            XCTAssert("\(error)".contains("not a regular file"), "\(error)")
        }
        var st = stat()
        XCTAssertEqual(stat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        XCTAssertEqual(try? FileManager.default.contentsOfDirectory(atPath: dir), ["m.gguf"])
    }

    func testValueAccessorsOnParsedValues() throws {
        var w = GGUFWriter()
        w.set("n", .uint64(42))
        w.set("f", .float32(0.5))
        w.set("toks", .array(.string(["a", "b"])))
        w.set("ids", .array(.int32([3, -1])))
        let f = try GGUFFile(bytes: w.serialize())
        XCTAssertEqual(f.metadata["n"]?.intValue, 42)
        XCTAssertEqual(f.metadata["f"]?.doubleValue, 0.5)
        XCTAssertEqual(f.metadata["toks"]?.arrayValue?.strings, ["a", "b"])
        XCTAssertEqual(f.metadata["ids"]?.arrayValue?.ints, [3, -1])
        XCTAssertEqual(f.metadata["ids"]?.typeName, "array<int32>")
        XCTAssertEqual(f.metadata["toks"]?.arrayValue?.elementTypeName, "string")
    }
}
