// Calls BeatFlow's vcs over gRPC from TypeScript with the code `buf generate` makes from
// clients/typescript/buf.gen.yaml (Connect-ES). Usage: node create_repository.js ADDRESS TOKEN NAME
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RepositoryService } from "./gen/beatflow/vcs/v1/repositories_pb.js";

const [address, token, name] = process.argv.slice(2);
const repositories = createClient(RepositoryService, createGrpcTransport({ baseUrl: `http://${address}` }));

try {
  const response = await repositories.createRepository(
    { name, isPublic: true },
    { headers: { authorization: `Bearer ${token}` } },
  );
  console.log(JSON.stringify({ repo_id: response.repository?.repoId }));
} catch (error) {
  console.error(String(error));
  process.exit(1);
}
