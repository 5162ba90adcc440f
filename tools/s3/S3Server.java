import java.io.InputStream;
import java.net.URI;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3ErrorCode;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.S3ProxyException;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.PutObjectResponse;

/**
 * S3Proxy on its in-memory ("transient") backend, listening on 127.0.0.1 with SigV4 credentials,
 * with one change: a PutObject with If-Match is checked and applied as one step.
 *
 * S3Proxy 4.1.0 hands If-None-Match to this backend, which applies it atomically, but checks
 * If-Match itself before the write (a HEAD, then the PUT): of 20 concurrent compare-and-swaps
 * from one ETag, several succeeded. Amazon S3 lets exactly one win, and the pipeline's checkpoint
 * relies on that, so every write and delete of a key here runs under that key's lock, and If-Match
 * is checked again inside it. Arguments: port, access key id, secret access key.
 */
public final class S3Server {
    public static void main(String[] args) throws Exception {
        S3Proxy proxy = S3Proxy.builder()
                .blobStore(new AtomicIfMatch(BlobStores.create("transient", new Properties())))
                .endpoint(URI.create("http://127.0.0.1:" + args[0]))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, args[1], args[2])
                .build();
        proxy.start();
    }

    /** The backend, with each key's writes and deletes serialized and If-Match checked under the lock. */
    private static final class AtomicIfMatch extends ForwardingBlobStore {
        private final ConcurrentHashMap<String, Object> locks = new ConcurrentHashMap<>();

        AtomicIfMatch(BlobStore backend) {
            super(backend);
        }

        private Object lockOf(String bucket, String key) {
            return locks.computeIfAbsent(bucket + '/' + key, name -> new Object());
        }

        @Override
        public PutObjectResponse putBlob(PutObjectRequest request, InputStream body) {
            synchronized (lockOf(request.bucket(), request.key())) {
                String expected = request.ifMatch();
                if (expected != null && !expected.equals("*")) {
                    HeadObjectResponse current = delegate().blobMetadataIfPresent(request.bucket(), request.key());
                    if (current == null) throw new S3ProxyException(S3ErrorCode.NO_SUCH_KEY);
                    if (!unquoted(expected).equals(unquoted(current.eTag()))) throw new S3ProxyException(S3ErrorCode.PRECONDITION_FAILED);
                }
                return super.putBlob(request, body);
            }
        }

        @Override
        public DeleteObjectResponse removeBlob(DeleteObjectRequest request) {
            synchronized (lockOf(request.bucket(), request.key())) {
                return super.removeBlob(request);
            }
        }

        private static String unquoted(String etag) {
            return etag == null ? "" : etag.replace("\"", "");
        }
    }
}
