import Foundation
import XCTest
import Lockstep

/// `lockstep-verify audit` through the binary: exit status, JSON report, the injected product
/// fault, bad arguments.
final class AuditCLITests: XCTestCase {
    func testAuditThroughTheBinary() throws {
        let m = Fixture.modelPath, d = Fixture.dir
        let honest = d.appendingPathComponent("cli-audit.trace").path, bad = d.appendingPathComponent("cli-audit-f.trace").path
        for (path, extra) in [(honest, [String]()), (bad, ["--inject-fault", "3:1"])] {
            let g = try Binary.run("lockstep", ["generate", "--model", m, "--prompt", "hello world", "--max-tokens", "6", "--trace", path] + extra)
            XCTAssertEqual(g.status, 0, g.stderr)
        }
        let ok = try Binary.verify(["audit", "--model", m, "--trace", honest, "--json"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        let j = Binary.json(ok)
        XCTAssertEqual(j["command"] as? String, "audit")
        XCTAssertEqual(j["holds"] as? Bool, true)
        XCTAssertEqual(j["exit_status"] as? Int, 0)
        XCTAssertEqual(j["products_audited"] as? Int, 8)
        XCTAssertEqual(j["soundness_error_log2"] as? Double, -127)
        XCTAssertEqual(j["field"] as? String, "GF(2^127 - 1)")
        for key in ["matmul_calls", "field_operations", "direct_operations", "verifier_seconds", "audited_product_seconds",
                    "certificate_seconds", "replay_seconds", "randomness", "rounds", "products", "divergence", "reason", "backend"] {
            XCTAssertNotNil(j[key], key)
        }
        let products = try XCTUnwrap(j["products"] as? [[String: Any]])
        XCTAssertEqual(products.count, 8)
        XCTAssertNotNil(products[0]["matrix"] as? String)
        XCTAssertTrue(products.allSatisfy { $0["failure"] is NSNull })

        // Text form, every product, two rounds, a seed, GMP arithmetic.
        let text = try Binary.verify(["audit", "--model", m, "--trace", honest, "--products", "all", "--rounds", "2", "--seed", "9",
                                      "--field-arithmetic", "gmp", "--backend", "reference"])
        XCTAssertEqual(text.status, 0, text.stdout + text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("OK: "), text.stdout)
        XCTAssertTrue(text.stdout.contains("soundness_error: per audited product: (1/p + 2^-192)^2"), text.stdout)

        // A backend that lies (consistently) about one product of the last pass: the layer-1
        // ffn_down product, the call before the output head. Exit 1, the product named.
        let calls = try XCTUnwrap(j["matmul_calls"] as? Int), call = calls - 2
        let lie = try Binary.verify(["audit", "--model", m, "--trace", honest, "--products", "all", "--inject-product-fault", "\(call):2:5", "--json"])
        XCTAssertEqual(lie.status, 1, lie.stdout + lie.stderr)
        let lj = Binary.json(lie)
        let failed = try XCTUnwrap((lj["products"] as? [[String: Any]])?.first { !($0["failure"] is NSNull) })
        XCTAssertEqual(failed["call"] as? Int, call)
        XCTAssertEqual(failed["matrix"] as? String, "blk.1.ffn_down.weight")
        XCTAssertEqual((failed["failure"] as? [String: Any])?["kind"] as? String, "freivalds")
        XCTAssertTrue((lj["reason"] as? String ?? "").contains("product \(call)"), lie.stdout)
        XCTAssertNotNil(lj["divergence"] as? [String: Any])
        let rounding = try Binary.verify(["audit", "--model", m, "--trace", honest, "--products", "all", "--inject-product-fault", "\(call):2:5:output", "--json"])
        XCTAssertEqual(rounding.status, 1)
        XCTAssertTrue((Binary.json(rounding)["reason"] as? String ?? "").contains("[rounding]"), rounding.stdout)

        // A trace wrong from position 3, layer 1.
        let f = try Binary.verify(["audit", "--model", m, "--trace", bad, "--json"])
        XCTAssertEqual(f.status, 1)
        let div = Binary.json(f)["divergence"] as? [String: Any]
        XCTAssertEqual(div?["position"] as? Int, 3); XCTAssertEqual(div?["layer"] as? Int, 1)

        // Unusable input: bad arguments, another model.
        for args in [["--products", "0"], ["--products", "some"], ["--rounds", "0"], ["--rounds", "65"], ["--field-arithmetic", "float"],
                     ["--inject-product-fault", "1:2"], ["--inject-product-fault", "1:2:3:other"]] {
            let r = try Binary.verify(["audit", "--model", m, "--trace", honest] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stdout)\(r.stderr)")
            XCTAssertFalse(r.crashed)
        }
        XCTAssertEqual(try Binary.verify(["audit", "--model", Fixture.otherModelPath, "--trace", honest]).status, 2)
    }
}
