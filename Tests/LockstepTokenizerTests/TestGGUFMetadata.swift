import Foundation
import LockstepGGUF

/// A minimal, test-only reader of a GGUF file's metadata (key/value) section, until the
/// LockstepGGUF reader exists. Reads GGUF v2/v3, little-endian; stops before the tensor infos.
enum TestGGUFMetadata {
    struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads every metadata key of the GGUF file at `path`.
    static func read(path: String) throws -> [String: GGUFValue] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return try data.withUnsafeBytes { raw throws -> [String: GGUFValue] in
            var r = Reader(raw: raw)
            guard try r.u32() == 0x4655_4747 else { throw ReadError(description: "\(path): not a GGUF file") }
            let version = try r.u32()
            guard version == 2 || version == 3 else { throw ReadError(description: "\(path): GGUF version \(version) not supported") }
            _ = try r.u64()  // tensor count
            let kvCount = try r.u64()
            var out: [String: GGUFValue] = [:]
            for _ in 0..<kvCount {
                let key = try r.string()
                out[key] = try r.value(type: try r.u32())
            }
            return out
        }
    }

    private struct Reader {
        let raw: UnsafeRawBufferPointer
        var offset = 0

        mutating func take<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard offset + size <= raw.count else { throw ReadError(description: "GGUF metadata runs past the end of the file") }
            let v = raw.loadUnaligned(fromByteOffset: offset, as: T.self)
            offset += size
            return T(littleEndian: v)
        }
        mutating func u32() throws -> UInt32 { try take(UInt32.self) }
        mutating func u64() throws -> UInt64 { try take(UInt64.self) }
        mutating func f32() throws -> Float { Float(bitPattern: try u32()) }
        mutating func f64() throws -> Double { Double(bitPattern: try u64()) }

        mutating func string() throws -> String {
            let n = Int(try u64())
            guard n >= 0, offset + n <= raw.count else { throw ReadError(description: "GGUF string runs past the end of the file") }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), as: UTF8.self)
            offset += n
            return s
        }

        mutating func value(type: UInt32) throws -> GGUFValue {
            switch type {
            case 0: return .uint8(try take(UInt8.self))
            case 1: return .int8(try take(Int8.self))
            case 2: return .uint16(try take(UInt16.self))
            case 3: return .int16(try take(Int16.self))
            case 4: return .uint32(try take(UInt32.self))
            case 5: return .int32(try take(Int32.self))
            case 6: return .float32(try f32())
            case 7: return .bool(try take(UInt8.self) != 0)
            case 8: return .string(try string())
            case 9: return .array(try array())
            case 10: return .uint64(try u64())
            case 11: return .int64(try take(Int64.self))
            case 12: return .float64(try f64())
            default: throw ReadError(description: "unknown GGUF value type \(type)")
            }
        }

        mutating func array() throws -> GGUFArray {
            let type = try u32()
            let n = Int(try u64())
            func many<T>(_ f: (inout Reader) throws -> T) throws -> [T] {
                var a: [T] = []
                a.reserveCapacity(n)
                for _ in 0..<n { a.append(try f(&self)) }
                return a
            }
            switch type {
            case 0: return .uint8(try many { try $0.take(UInt8.self) })
            case 1: return .int8(try many { try $0.take(Int8.self) })
            case 2: return .uint16(try many { try $0.take(UInt16.self) })
            case 3: return .int16(try many { try $0.take(Int16.self) })
            case 4: return .uint32(try many { try $0.u32() })
            case 5: return .int32(try many { try $0.take(Int32.self) })
            case 6: return .float32(try many { try $0.f32() })
            case 7: return .bool(try many { try $0.take(UInt8.self) != 0 })
            case 8: return .string(try many { try $0.string() })
            case 9: return .nested(try many { .array(try $0.array()) })
            case 10: return .uint64(try many { try $0.u64() })
            case 11: return .int64(try many { try $0.take(Int64.self) })
            case 12: return .float64(try many { try $0.f64() })
            default: throw ReadError(description: "unknown GGUF array element type \(type)")
            }
        }
    }
}
