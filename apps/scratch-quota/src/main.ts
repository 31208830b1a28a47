import { runService } from '@climcat/platform';
import { ScratchQuotaModule } from './scratch-quota.module';

void runService('scratch-quota', [ScratchQuotaModule]);
