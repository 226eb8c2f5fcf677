package atelier.delta;

import io.delta.storage.HadoopFileSystemLogStore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * Delta's log store for a lake on a local (or POSIX-mounted) file system, safe for writers in several processes.
 *
 * <p>Delta's default for such paths, HDFSLogStore, checks that a commit file is absent and then renames its
 * temporary file onto it; on a local file system the rename replaces a file that another process created in
 * between, so a concurrent commit can be lost. Here the commit is written to a temporary file in the same folder,
 * flushed to disk, then published with a hard link, which the kernel refuses atomically when the name exists:
 * exactly one writer of a version succeeds, the others get FileAlreadyExistsException and Delta retries them
 * on the next version.
 */
public final class LinkLogStore extends HadoopFileSystemLogStore {

  public LinkLogStore(Configuration hadoopConf) {
    super(hadoopConf);
  }

  @Override
  public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration hadoopConf)
      throws IOException {
    java.nio.file.Path target = path.toUri().getScheme() == null
        ? Paths.get(path.toUri().getPath()) : Paths.get(path.toUri());
    Files.createDirectories(target.getParent());
    java.nio.file.Path temp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
           OutputStream out = Channels.newOutputStream(channel)) {
        while (actions.hasNext()) {
          out.write((actions.next() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        out.flush();
        channel.force(true);
      }
      // Hadoop's local file system keeps a checksum beside each file it wrote (.NAME.crc) and verifies it on
      // read; one left by an earlier writer (Delta's default store, before this one) would fail reads of
      // the new content. Removed first: a reader in between sees the old file unverified, never a mismatch.
      Files.deleteIfExists(target.resolveSibling("." + target.getFileName() + ".crc"));
      if (overwrite) {
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } else {
        Files.createLink(target, temp);  // java.nio.file.FileAlreadyExistsException when another writer won
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  @Override
  public Boolean isPartialWriteVisible(Path path, Configuration hadoopConf) {
    return false;
  }
}
