import Foundation
import LockstepNative

/// Where models live on disk: the real model fetched by the README's commands, and the tiny
/// built-in model written on demand as the fallback.
public enum ModelStore {
    /// File name of the real model inside the cache directory.
    public static let realModelFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    /// SHA-256 of the real model file (hex).
    public static let realModelSHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    /// Size of the real model file in bytes.
    public static let realModelByteCount = 98_362_432

    /// `$LOCKSTEP_CACHE`, else `~/.cache/lockstep`.
    public static var cacheDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["LOCKSTEP_CACHE"], !dir.isEmpty { return dir }
        return NSHomeDirectory() + "/.cache/lockstep"
    }

    /// `$LOCKSTEP_MODEL`, else the real model's path inside the cache directory.
    public static var realModelPath: String {
        if let path = ProcessInfo.processInfo.environment["LOCKSTEP_MODEL"], !path.isEmpty { return path }
        return cacheDirectory + "/" + realModelFileName
    }

    /// The model to use when none is named: the real model if it is present, else the built-in
    /// tiny model (`TinyModelSpec.standard`), written into the cache directory on first use.
    /// - Returns: the path and whether it is the tiny fallback.
    /// A file named by `$LOCKSTEP_MODEL` must exist: a mistyped path is an error, never a
    /// silent change to the tiny model.
    /// - Throws: `ModelError` naming the file when `$LOCKSTEP_MODEL` names one that does not
    ///   exist, or naming the cache directory or the file when the tiny model cannot be written
    ///   there (nothing is left behind).
    public static func defaultModel() throws(ModelError) -> (path: String, isFallback: Bool) {
        if FileManager.default.fileExists(atPath: realModelPath) { return (realModelPath, false) }
        if let named = ProcessInfo.processInfo.environment["LOCKSTEP_MODEL"], !named.isEmpty {
            throw ModelError(path: named, "no such file (named by LOCKSTEP_MODEL; unset it to use the real model in the cache, else the built-in tiny model)")
        }
        let directory = cacheDirectory
        let path = directory + "/lockstep-tiny-\(TinyModelSpec.standard.seed).gguf"
        if !FileManager.default.fileExists(atPath: path) {
            do { try makeDirectories(atPath: directory) } catch {
                throw ModelError(path: directory, "\(error.reason), the model cache for the built-in tiny model; set LOCKSTEP_CACHE to a writable directory")
            }
            let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
            do {
                try TinyModel.write(.standard, to: temporary)
            } catch {
                unlink(temporary)
                throw error
            }
            // rename(2) is atomic: a concurrent reader sees no file or the whole file.
            guard rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temporary)
                throw ModelError(path: path, "cannot move the tiny model into place (\(reason))")
            }
        }
        return (path, true)
    }
}
