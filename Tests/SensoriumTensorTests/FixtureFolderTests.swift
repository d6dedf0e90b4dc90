import Foundation
import Testing
import SensoriumTestSupport

/// Where the fixture suites find their folders (`Fixtures.folder(environmentKey:defaultSubfolder:)`):
/// environment variable, else `../shared/fixtures/<sub>` beside the package, else `Tests/Fixtures/<sub>`.
@Suite struct FixtureFolderTests {
    /// A temporary folder `<tmp>/<unique>/` holding `work/package/` (with `Tests/Fixtures/parity`) and,
    /// when `shared` is true, `work/shared/fixtures/parity`; removed by `remove()`.
    struct Layout {
        let top: URL
        var package: URL { top.appendingPathComponent("work/package", isDirectory: true) }
        var shared: URL { top.appendingPathComponent("work/shared/fixtures", isDirectory: true) }

        init(shared: Bool) throws {
            top = FileManager.default.temporaryDirectory
                .appendingPathComponent("sensorium-fixture-folders-\(UUID().uuidString)", isDirectory: true)
            let fm = FileManager.default
            try fm.createDirectory(at: package.appendingPathComponent("Tests/Fixtures/parity"),
                                   withIntermediateDirectories: true)
            if shared {
                try fm.createDirectory(at: self.shared.appendingPathComponent("parity"), withIntermediateDirectories: true)
            }
        }

        func remove() { try? FileManager.default.removeItem(at: top) }
    }

    @Test func sharedFolderBesideThePackageWins() throws {
        let layout = try Layout(shared: true)
        defer { layout.remove() }
        let folder = Fixtures.resolveFolder(subfolder: "parity", override: nil, packageRoot: layout.package)
        #expect(folder.path == layout.shared.appendingPathComponent("parity").standardizedFileURL.path)
    }

    @Test func fallsBackToTheRepositoryCopyWithoutShared() throws {
        let layout = try Layout(shared: false)
        defer { layout.remove() }
        let expected = layout.package.appendingPathComponent("Tests/Fixtures/parity").standardizedFileURL.path
        #expect(Fixtures.resolveFolder(subfolder: "parity", override: nil, packageRoot: layout.package).path == expected)
        #expect(Fixtures.resolveFolder(subfolder: "parity", override: "", packageRoot: layout.package).path == expected)
        #expect(Fixtures.repositoryFolder("parity", packageRoot: layout.package).path == expected)
    }

    @Test func fallsBackPerSubfolder() throws {
        // `shared/fixtures` exists but has no `cores` folder (and `metrics` is a file, not a folder).
        let layout = try Layout(shared: true)
        defer { layout.remove() }
        try Data("not a folder".utf8).write(to: layout.shared.appendingPathComponent("metrics"))
        for sub in ["cores", "metrics"] {
            let folder = Fixtures.resolveFolder(subfolder: sub, override: nil, packageRoot: layout.package)
            #expect(folder.path == layout.package.appendingPathComponent("Tests/Fixtures/\(sub)").standardizedFileURL.path)
        }
    }

    @Test func environmentOverridesBoth() throws {
        let layout = try Layout(shared: true)
        defer { layout.remove() }
        let elsewhere = layout.top.appendingPathComponent("elsewhere").path
        #expect(Fixtures.resolveFolder(subfolder: "parity", override: elsewhere, packageRoot: layout.package).path
                == URL(fileURLWithPath: elsewhere).standardizedFileURL.path)
        // A relative value is taken from the package root (also without a trailing slash on the root).
        let withoutSlash = try #require(URL(string: "file://" + layout.package.path))
        #expect(!withoutSlash.hasDirectoryPath)
        for root in [layout.package, withoutSlash] {
            let folder = Fixtures.resolveFolder(subfolder: "parity", override: "Tests/Fixtures/parity", packageRoot: root)
            #expect(folder.path == layout.package.appendingPathComponent("Tests/Fixtures/parity").standardizedFileURL.path)
        }
    }

    @Test func ownEntriesComeFromTheList() throws {
        let layout = try Layout(shared: false)
        defer { layout.remove() }
        let list = """
            # comment line
            parity/b_v2   # a comment
              parity/a_v2
            cores/extra
            parity/
            core_options
            """
        try Data(list.utf8).write(to: layout.package.appendingPathComponent("Tests/Fixtures/OWN"))
        #expect(Fixtures.ownEntries("parity", packageRoot: layout.package) == ["a_v2", "b_v2"])
        #expect(Fixtures.ownEntries("cores", packageRoot: layout.package) == ["extra"])
        #expect(Fixtures.ownEntries("models", packageRoot: layout.package).isEmpty)
    }

    /// The repository's copy is complete enough for a lone clone: every kind has cases, and every own
    /// parity case listed in `Tests/Fixtures/OWN` is there.
    @Test(arguments: [("parity", "case.json"), ("cores", "core.json"), ("models", "model.json"),
                      ("metrics", "case.json"), ("winners", "model.json"), ("core_options", "core.json")])
    func repositoryCopyHasCases(_ sub: String, _ marker: String) {
        let folder = Fixtures.repositoryFolder(sub)
        #expect(!Fixtures.cases(in: folder, marker: marker).isEmpty, "no \(marker) cases in \(folder.path)")
    }

    @Test func ownParityCasesArePresent() {
        let own = Fixtures.ownEntries("parity")
        #expect(!own.isEmpty)
        let cases = Set(Fixtures.cases(in: Fixtures.repositoryFolder("parity"), marker: "case.json"))
        for name in own { #expect(cases.contains(name), "Tests/Fixtures/OWN lists parity/\(name), which is missing") }
    }
}
