package dev.eddy.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the {@code eddy} binary: {@code eddy run} on a job file it writes, and {@code eddy topic
 * import}. Its outputs are read back with {@link Replays}.
 */
public final class EddyCli {

    private EddyCli() {}

    /** What {@code eddy run} wrote. */
    public record RunOutputs(List<Replays.Rec> predictions, List<Replays.Rec> models, List<Replays.Rec> deadLetters) {}

    /**
     * Runs {@code component} over {@code replay} with {@code config} (a flat JSON object whose
     * values are numbers, strings, booleans or arrays of them) and a dead-letter sink, like the
     * adapters, writing into {@code dir}.
     */
    public static RunOutputs run(Path component, Map<String, String> config, Path replay, Path dir)
            throws IOException, InterruptedException {
        Path jobFile = writeJob(component, config, replay, dir);
        exec(dir, "run", jobFile.toString(), "--quiet");
        return new RunOutputs(
                Replays.read(dir.resolve("predictions.replay")),
                Replays.read(dir.resolve("models.replay")),
                Replays.read(dir.resolve("dead-letters.replay")));
    }

    /**
     * Runs a job file's text (its {@code [source]} and operators; the sinks are added here:
     * predictions, models and dead letters as replay files in {@code dir}).
     */
    public static RunOutputs runJob(String jobWithoutSinks, Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path jobFile =
                Files.writeString(
                        dir.resolve("job.toml"),
                        jobWithoutSinks
                                + "\n[sinks]\npredictions = \"predictions.replay\"\nmodels = \"models.replay\"\n"
                                + "dead_letters = \"dead-letters.replay\"\n");
        exec(dir, "run", jobFile.toString(), "--quiet");
        return new RunOutputs(
                Replays.read(dir.resolve("predictions.replay")),
                Replays.read(dir.resolve("models.replay")),
                Replays.read(dir.resolve("dead-letters.replay")));
    }

    public static Path writeJob(Path component, Map<String, String> config, Path replay, Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder job = new StringBuilder();
        job.append("[source]\nreplay = ").append(Json.quote(replay.toString())).append("\nformat = \"json\"\n\n");
        job.append("[operator]\ncomponent = ").append(Json.quote(component.toString())).append("\n\n");
        job.append("[operator.config]\n");
        // JSON scalars and arrays of them are TOML values as they are
        config.forEach((k, v) -> job.append(k).append(" = ").append(v).append('\n'));
        job.append("\n[sinks]\npredictions = \"predictions.replay\"\nmodels = \"models.replay\"\n")
                .append("dead_letters = \"dead-letters.replay\"\n");
        return Files.writeString(dir.resolve("job.toml"), job);
    }

    /** Like {@link #run}, but returns the summary {@code eddy run --json} prints. */
    public static String runJson(Path component, Map<String, String> config, Path replay, Path dir)
            throws IOException, InterruptedException {
        writeJob(component, config, replay, dir);
        Path out = Files.createTempFile(dir, "summary-", ".json");
        Process p =
                new ProcessBuilder(EddyTestEnv.eddyBinary().toString(), "run", dir.resolve("job.toml").toString(), "--quiet", "--json")
                        .directory(dir.toFile())
                        .redirectOutput(out.toFile())
                        .redirectError(ProcessBuilder.Redirect.INHERIT)
                        .start();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException("eddy run --json failed");
        }
        return Files.readString(out).trim();
    }

    /** The config as the JSON object the adapters take. */
    public static String configJson(Map<String, String> config) {
        StringBuilder sb = new StringBuilder("{");
        config.forEach((k, v) -> sb.append(sb.length() > 1 ? "," : "").append(Json.quote(k)).append(':').append(v));
        return sb.append('}').toString();
    }

    /** {@code eddy topic import --jsonl}: JSON lines to a replay, round-robin over partitions. */
    public static void importJsonl(Path jsonl, String topic, int partitions, Path out)
            throws IOException, InterruptedException {
        exec(out.getParent(), "topic", "import", "--jsonl", jsonl.toString(), "--topic", topic,
                "--partitions", Integer.toString(partitions), "--out", out.toString());
    }

    public static void exec(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(EddyTestEnv.eddyBinary().toString());
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(dir, "eddy-", ".log");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("eddy " + String.join(" ", args) + " timed out");
        }
        if (p.exitValue() != 0) {
            throw new IOException(
                    "eddy " + String.join(" ", args) + " failed (exit " + p.exitValue() + "):\n"
                            + Files.readString(log, StandardCharsets.UTF_8));
        }
    }
}
