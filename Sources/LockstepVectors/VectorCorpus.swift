import Foundation
import LockstepCore
import LockstepModel
import LockstepNative

/// The determinism test vectors as a whole: which files exist, how they are generated, and
/// writing them (byte-identical on every regeneration under the same contract version).
public enum VectorCorpus {
    /// The contract version the generated vectors name.
    public static var contractVersion: String { ContractVersion.current }

    /// Subdirectories of the vectors directory this module writes and runs. (`merkle/` and
    /// `commitments/` belong to the trace vectors.)
    public static let subdirectories = ["ops", "models"]

    /// Path of the tiny-model vectors.
    public static let tinyModelPath = "models/tiny.json"
    /// Path of the real-model vectors (generated only where the real model is present).
    public static let realModelPath = "models/smollm2-135m-instruct-q4_1.json"

    /// A generated file: its path under the vectors directory and its canonical text.
    public struct GeneratedFile: Sendable {
        public let path: String
        public let text: String
    }

    /// Every vector file; the real model's only when it is present (else listed in `skipped`).
    public static func generate(progress: ((String) -> Void)? = nil) throws(VectorError)
        -> (files: [GeneratedFile], skipped: [(path: String, reason: String)]) {
        var files: [GeneratedFile] = []
        for (path, file) in OpVectors.all() {
            progress?(path)
            files.append(GeneratedFile(path: path, text: file.serialized()))
        }
        progress?(tinyModelPath)
        files.append(GeneratedFile(path: tinyModelPath, text: try ModelVectors.tinyFile().serialized()))
        progress?(realModelPath)
        var skipped: [(String, String)] = []
        if let real = try ModelVectors.realFile() {
            files.append(GeneratedFile(path: realModelPath, text: real.serialized()))
        } else {
            skipped.append((realModelPath, "the real model is not present at \(ModelStore.realModelPath)"))
        }
        return (files, skipped)
    }

    /// Generates every file into `directory` (creating `ops/` and `models/`); files whose
    /// content is unchanged are not rewritten.
    /// - Returns: the paths written or unchanged, and the files skipped with the reason.
    @discardableResult
    public static func write(into directory: String, progress: ((String) -> Void)? = nil) throws(VectorError)
        -> (files: [String], skipped: [(path: String, reason: String)]) {
        let (files, skipped) = try generate(progress: progress)
        for f in files {
            let path = directory + "/" + f.path
            let bytes = Array(f.text.utf8)
            do {
                try makeDirectories(atPath: (path as NSString).deletingLastPathComponent)
                if (try? readRegularFile(atPath: path, maxBytes: VectorRunner.maxFileBytes)) != bytes { try writeFile(atPath: path, bytes) }
            } catch {
                throw VectorError(error.description)
            }
        }
        return (files.map(\.path), skipped)
    }
}

